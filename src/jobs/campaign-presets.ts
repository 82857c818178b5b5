export enum CampaignPreset {
  Default = 'default',
  Aggressive = 'aggressive',
  Gentle = 'gentle',
  Weekend = 'weekend',
}

export interface PresetSettings {
  bookingCadenceDays: number;
  batchSize: number;
  promoCode: string | null;
}

/** Named campaign settings; fields given explicitly in a request override them. */
export const CAMPAIGN_PRESETS: Record<CampaignPreset, PresetSettings> = {
  [CampaignPreset.Default]: { bookingCadenceDays: 21, batchSize: 50, promoCode: null },
  [CampaignPreset.Aggressive]: { bookingCadenceDays: 14, batchSize: 100, promoCode: 'COMEBACK15' },
  [CampaignPreset.Gentle]: { bookingCadenceDays: 28, batchSize: 25, promoCode: null },
  [CampaignPreset.Weekend]: { bookingCadenceDays: 21, batchSize: 50, promoCode: 'WEEKEND20' },
};
