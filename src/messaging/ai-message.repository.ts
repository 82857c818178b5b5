import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource, Repository } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { groupCommit } from '../database/group-commit';
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
  /** Campaign sends carry their day (YYYY-MM-DD): one message per customer, day and channel. */
  campaignDay: string | null;
  jobRunId: string | null;
}

export type ClaimOutcome = 'claimed' | 'customer_not_found' | 'opted_out' | 'frequency_capped' | 'already_claimed';

/** What was sent (or tried) and how it ended; written once the channel has answered. */
export interface DeliveryRecord {
  subject: string;
  messageText: string;
  generator: GeneratorKind;
  fallbackReason: string | null;
  safetyViolations: SafetyViolationRecord[] | null;
  status: DeliveryStatus.Sent | DeliveryStatus.Failed;
  providerMessageId: string | null;
  error: string | null;
  smsSegments: number | null;
}

/**
 * A batch goes to Postgres as one jsonb parameter. jsonb rejects a lone UTF-16 surrogate (half of an emoji left
 * by a cut), which a text parameter would have stored as U+FFFD; so strings get U+FFFD here.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
function jsonParameter(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) =>
    typeof field === 'string' ? field.replace(LONE_SURROGATE, '\uFFFD') : field,
  );
}

/** What recordDelivery queues for the batched UPDATE. */
interface DeliveryUpdate {
  id: string;
  record: DeliveryRecord;
}

@Injectable()
export class AiMessageRepository {
  /**
   * The pg pool under TypeORM, for the statements every message runs (claim, record): going through
   * DataSource.query costs ~50 µs more Node CPU per statement, which showed in the campaign benchmark.
   */
  private readonly pool: Pool;
  /** Concurrent claims and delivery records share statements and commits (see groupCommit). */
  private readonly claimOne: (request: ClaimRequest) => Promise<ClaimOutcome>;
  private readonly recordOne: (update: DeliveryUpdate) => Promise<void>;

  constructor(
    dataSource: DataSource,
    @InjectRepository(AiMessageEntity) private readonly messages: Repository<AiMessageEntity>,
  ) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
    this.claimOne = groupCommit((requests) => this.claimBatch(requests));
    this.recordOne = groupCommit((updates) => this.recordBatch(updates));
  }

  /**
   * Checks opt-out, the campaign-day key and the frequency cap, and writes the queued row, under the
   * customer's row lock (claim_ai_message): two concurrent sends to one customer cannot both pass.
   */
  claim(request: ClaimRequest): Promise<ClaimOutcome> {
    return this.claimOne(request);
  }

  /**
   * Records how the send ended. The status only leaves `queued`: an event (a fast click) may already have
   * moved it further. A failed message gives its frequency-cap slot back.
   */
  async recordDelivery(id: string, record: DeliveryRecord): Promise<void> {
    await this.recordOne({ id, record });
    if (record.status === DeliveryStatus.Failed) await this.releaseCapSlot(id);
  }

  private async claimBatch(requests: readonly ClaimRequest[]): Promise<(ClaimOutcome | Error)[]> {
    const claims = requests.map((request) => ({
      id: request.id,
      user_id: request.userId,
      message_type: request.messageType,
      channel: request.channel,
      recipient: request.recipient,
      service_id: request.serviceId,
      promo_code: request.promoCode,
      tone: request.tone,
      correlation_id: request.correlationId,
      link_expires_at: request.linkExpiresAt,
      bypass_cap: request.bypassFrequencyCap,
      cap_max: request.frequencyCap.maxMessages,
      cap_days: request.frequencyCap.windowDays,
      campaign_day: request.campaignDay,
      job_run_id: request.jobRunId,
    }));
    const { rows } = await this.pool.query<{ id: string; outcome: ClaimOutcome }>(
      'SELECT id, outcome FROM claim_ai_messages($1::jsonb)',
      [jsonParameter(claims)],
    );
    const outcomes = new Map(rows.map((row) => [row.id, row.outcome]));
    return requests.map(
      (request) => outcomes.get(request.id) ?? new Error(`claim of message ${request.id} returned no outcome`),
    );
  }

  private async recordBatch(updates: readonly DeliveryUpdate[]): Promise<(void | Error)[]> {
    const records = updates.map(({ id, record }) => ({
      id,
      subject: record.subject,
      message_text: record.messageText,
      generator: record.generator,
      fallback_reason: record.fallbackReason,
      safety_violations: record.safetyViolations,
      status: record.status,
      provider_message_id: record.providerMessageId,
      error: record.error?.slice(0, 1000) ?? null,
      sms_segments: record.smsSegments,
    }));
    // Not a named (prepared) statement on purpose: that would keep the plan made while the table was small (a
    // hash join over a sequential scan) for the whole session; planned each time, it is index lookups by id.
    await this.pool.query({
      text: `UPDATE ai_messages m
                SET subject = r.subject, message_text = r.message_text, generator = r.generator,
                    fallback_reason = r.fallback_reason, safety_violations = r.safety_violations,
                    delivery_status = CASE WHEN m.delivery_status = 'queued' THEN r.status ELSE m.delivery_status END,
                    provider_message_id = r.provider_message_id, error = r.error, sms_segments = r.sms_segments,
                    sent_at = CASE WHEN r.status = 'sent' THEN now() END, updated_at = now()
               FROM jsonb_to_recordset($1::jsonb) AS r(
                      id uuid, subject text, message_text text, generator text, fallback_reason text,
                      safety_violations jsonb, status text, provider_message_id text, error text, sms_segments smallint)
              WHERE m.id = r.id`,
      values: [jsonParameter(records)],
    });
    return updates.map(() => undefined);
  }

  /** A claim whose draft was rejected: nothing was sent. */
  async markFailed(id: string, error: string): Promise<void> {
    await this.messages.update({ id }, { deliveryStatus: DeliveryStatus.Failed, error: error.slice(0, 1000) });
    await this.releaseCapSlot(id);
  }

  /**
   * A failed message does not count against the frequency cap, so customers.last_message_at (which
   * segmentation filters on) goes back to the customer's latest message that did not fail.
   */
  private async releaseCapSlot(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE customers c
          SET last_message_at = (SELECT max(m.created_at) FROM ai_messages m
                                  WHERE m.user_id = c.id AND m.delivery_status <> 'failed')
        WHERE c.id = (SELECT user_id FROM ai_messages WHERE id = $1)`,
      [id],
    );
  }

  findById(id: string): Promise<AiMessageEntity | null> {
    return this.messages.findOneBy({ id });
  }
}
