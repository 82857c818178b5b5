import { Injectable, Logger } from '@nestjs/common';
import { EventsService } from '../events/events.service';
import { EventSource, EventType } from '../events/message-event.entity';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { CustomerRepository } from '../segmentation/customer.repository';
import { SmsReplyOutcome, SmsReplyRequestDto } from './dto/sms-reply.dto';

/** Replies that opt out, compared without case, spaces or surrounding punctuation ("Stop.", "s t o p", "বন্ধ।"). */
const STOP_WORDS: ReadonlySet<string> = new Set(['STOP', 'UNSUBSCRIBE', 'END', 'বন্ধ']);

export function isStopWord(text: string): boolean {
  const word = text
    .normalize('NFC')
    .replace(/[\s\u200b\u200c\u200d\u2060\ufeff]+/gu, '')
    .replace(/^\p{P}+|\p{P}+$/gu, '')
    .toUpperCase();
  return STOP_WORDS.has(word);
}

/**
 * SMS opt-out by reply. An opt-out covers every channel (docs/messages-and-safety.md says why): it is the
 * customer's one opt-out, recorded as an `unsubscribed` event from `sms_reply` on their latest SMS, through the
 * same path as every other unsubscribe.
 */
@Injectable()
export class SmsReplyService {
  private readonly logger = new Logger(SmsReplyService.name);

  constructor(
    private readonly customers: CustomerRepository,
    private readonly messages: AiMessageRepository,
    private readonly events: EventsService,
  ) {}

  async receive(reply: SmsReplyRequestDto, signedAt: Date): Promise<SmsReplyOutcome> {
    // Never the text: a reply that is not a keyword is whatever the customer wrote.
    const trace = { fromEnding: reply.from.slice(-3), gatewayMessageId: reply.gateway_message_id };
    if (!isStopWord(reply.text)) {
      this.logger.log({ msg: 'SMS reply ignored: not an opt-out keyword', ...trace });
      return 'ignored';
    }
    const customerIds = await this.customers.findIdsByPhone(reply.from);
    if (customerIds.length === 0) {
      this.logger.log({ msg: 'SMS opt-out ignored: the number belongs to no customer', ...trace });
      return 'ignored';
    }
    const occurredAt = reply.received_at ? new Date(reply.received_at) : signedAt;
    // Whoever holds the number asked to stop, so every customer on it is opted out.
    const outcomes = await Promise.all(customerIds.map((id) => this.optOut(id, occurredAt)));
    const outcome = outcomes.includes('recorded') ? 'recorded' : 'duplicate';
    this.logger.log({ msg: `SMS opt-out ${outcome}`, customerIds, ...trace });
    return outcome;
  }

  private async optOut(customerId: string, occurredAt: Date): Promise<'recorded' | 'duplicate'> {
    const message = await this.messages.findLatestSentSms(customerId);
    if (!message) {
      // No SMS of ours went to them (the number reached the gateway some other way): the opt-out still holds.
      await this.customers.optOut(customerId, EventSource.SmsReply);
      return 'recorded';
    }
    const { duplicate } = await this.events.record(message, EventType.Unsubscribed, EventSource.SmsReply, occurredAt);
    return duplicate ? 'duplicate' : 'recorded';
  }
}
