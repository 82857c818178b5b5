import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { AiMessageEntity, SafetyViolationRecord } from './ai-message.entity';
import { Channel, DeliveryStatus, GeneratorKind, MessageType, Tone } from './message.types';

export interface ClaimRequest {
  id: string;
  userId: string;
  messageType: MessageType;
  channel: Channel;
  recipient: string;
  serviceId: string;
  promoCode: string | null;
  tone: Tone;
  correlationId: string;
  linkExpiresAt: Date;
  bypassFrequencyCap: boolean;
  frequencyCap: { maxMessages: number; windowDays: number };
}

export type ClaimOutcome = 'claimed' | 'customer_not_found' | 'opted_out' | 'frequency_capped';

export interface DraftRecord {
  subject: string;
  messageText: string;
  generator: GeneratorKind;
  fallbackReason: string | null;
  safetyViolations: SafetyViolationRecord[] | null;
}

@Injectable()
export class AiMessageRepository {
  constructor(
    private readonly dataSource: DataSource,
    @InjectRepository(AiMessageEntity) private readonly messages: Repository<AiMessageEntity>,
  ) {}

  /**
   * Checks opt-out and the frequency cap and writes the queued row in one transaction that holds the
   * customer's row lock, so two concurrent sends to one customer cannot both pass the cap.
   */
  claim(request: ClaimRequest): Promise<ClaimOutcome> {
    return this.dataSource.transaction(async (manager) => {
      const [customer] = await manager.query('SELECT opted_out_at FROM customers WHERE id = $1 FOR UPDATE', [
        request.userId,
      ]);
      if (!customer) return 'customer_not_found';
      if (customer.opted_out_at) return 'opted_out';
      if (!request.bypassFrequencyCap) {
        const [{ recent }] = await manager.query(
          `SELECT count(*)::int AS recent FROM ai_messages
            WHERE user_id = $1 AND delivery_status <> $2 AND created_at > now() - make_interval(days => $3)`,
          [request.userId, DeliveryStatus.Failed, request.frequencyCap.windowDays],
        );
        if (recent >= request.frequencyCap.maxMessages) return 'frequency_capped';
      }
      await manager.insert(AiMessageEntity, {
        id: request.id,
        userId: request.userId,
        messageType: request.messageType,
        channel: request.channel,
        recipient: request.recipient,
        serviceId: request.serviceId,
        promoCode: request.promoCode,
        tone: request.tone,
        correlationId: request.correlationId,
        linkExpiresAt: request.linkExpiresAt,
        bypassedFrequencyCap: request.bypassFrequencyCap,
        deliveryStatus: DeliveryStatus.Queued,
      });
      return 'claimed';
    });
  }

  /** Stores what is about to be sent, before the send. */
  async recordDraft(id: string, draft: DraftRecord): Promise<void> {
    await this.messages.update({ id }, draft);
  }

  async markSent(id: string, providerMessageId: string | null): Promise<void> {
    await this.messages.update({ id }, { deliveryStatus: DeliveryStatus.Sent, providerMessageId, sentAt: new Date() });
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.messages.update({ id }, { deliveryStatus: DeliveryStatus.Failed, error: error.slice(0, 1000) });
  }

  findById(id: string): Promise<AiMessageEntity | null> {
    return this.messages.findOneBy({ id });
  }
}
