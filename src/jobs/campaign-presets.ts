import { Channel } from '../messaging/message.types';

export enum CampaignPreset {
  Default = 'default',
  Aggressive = 'aggressive',
  Gentle = 'gentle',
  Weekend = 'weekend',
  Sms = 'sms',
}

export interface PresetSettings {
  bookingCadenceDays: number;
  batchSize: number;
  promoCode: string | null;
  channel: Channel;
}

/** Named campaign settings; fields given explicitly in a request override them. */
export const CAMPAIGN_PRESETS: Record<CampaignPreset, PresetSettings> = {
  [CampaignPreset.Default]: { bookingCadenceDays: 21, batchSize: 50, promoCode: null, channel: Channel.Email },
  [CampaignPreset.Aggressive]: { bookingCadenceDays: 14, batchSize: 100, promoCode: 'COMEBACK15', channel: Channel.Email },
  [CampaignPreset.Gentle]: { bookingCadenceDays: 28, batchSize: 25, promoCode: null, channel: Channel.Email },
  [CampaignPreset.Weekend]: { bookingCadenceDays: 21, batchSize: 50, promoCode: 'WEEKEND20', channel: Channel.Email },
  [CampaignPreset.Sms]: { bookingCadenceDays: 21, batchSize: 50, promoCode: null, channel: Channel.Sms },
};
