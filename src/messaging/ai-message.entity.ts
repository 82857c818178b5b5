import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { DeliveryStatus } from './delivery-status';
import { Channel, GeneratorKind, MessageType, Tone } from './message.types';

export interface SafetyViolationRecord {
  rule: string;
  detail: string;
}

/** One outbound message; the row exists before the send is attempted. */
@Entity({ name: 'ai_messages' })
export class AiMessageEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'agent_type', type: 'text', default: 'smartengage' })
  agentType: string;

  @Column({ name: 'message_type', type: 'text' })
  messageType: MessageType;

  @Column({ type: 'text' })
  channel: Channel;

  @Column({ name: 'delivery_status', type: 'text', default: DeliveryStatus.Queued })
  deliveryStatus: DeliveryStatus;

  /** Address the message went to, kept for audits. */
  @Column({ type: 'text' })
  recipient: string;

  @Column({ type: 'text', nullable: true })
  subject: string | null;

  @Column({ name: 'message_text', type: 'text', nullable: true })
  messageText: string | null;

  @Column({ name: 'service_id', type: 'uuid', nullable: true })
  serviceId: string | null;

  @Column({ name: 'promo_code', type: 'text', nullable: true })
  promoCode: string | null;

  @Column({ type: 'text', nullable: true })
  tone: Tone | null;

  /** Which generator wrote the prose that was sent. */
  @Column({ type: 'text', nullable: true })
  generator: GeneratorKind | null;

  /** Why the LLM's output was not used, when the template stood in for it. */
  @Column({ name: 'fallback_reason', type: 'text', nullable: true })
  fallbackReason: string | null;

  /** Safety-filter findings on rejected drafts. */
  @Column({ name: 'safety_violations', type: 'jsonb', nullable: true })
  safetyViolations: SafetyViolationRecord[] | null;

  @Column({ name: 'bypassed_frequency_cap', type: 'boolean', default: false })
  bypassedFrequencyCap: boolean;

  @Column({ name: 'correlation_id', type: 'text' })
  correlationId: string;

  @Column({ name: 'link_expires_at', type: 'timestamptz', nullable: true })
  linkExpiresAt: Date | null;

  /** Id the mail server or gateway gave the message. */
  @Column({ name: 'provider_message_id', type: 'text', nullable: true })
  providerMessageId: string | null;

  /** The latest failure, kept when a later attempt succeeded. */
  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  /** How many times the message was handed to its channel. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** Day (YYYY-MM-DD) of the campaign run that claimed this message; unique per customer and channel. */
  @Column({ name: 'campaign_day', type: 'date', nullable: true })
  campaignDay: string | null;

  @Column({ name: 'job_run_id', type: 'uuid', nullable: true })
  jobRunId: string | null;

  /** Parts the SMS took (UCS-2 for Bengali: 70 units in one part, 67 per part when split). */
  @Column({ name: 'sms_segments', type: 'smallint', nullable: true })
  smsSegments: number | null;

  /** The generator's prose as first written (before greeting, offer and links): what a retry sends again. */
  @Column({ name: 'prose_subject', type: 'text', nullable: true })
  proseSubject: string | null;

  @Column({ name: 'prose_body', type: 'text', nullable: true })
  proseBody: string | null;

  /** The model and prompt version that wrote the prose; null for templates. */
  @Column({ name: 'llm_model', type: 'text', nullable: true })
  llmModel: string | null;

  @Column({ name: 'prompt_version', type: 'text', nullable: true })
  promptVersion: string | null;

  /** The completion's usage: uncached prompt tokens, cached prompt tokens, completion tokens. */
  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true })
  promptTokens: number | null;

  @Column({ name: 'cached_tokens', type: 'integer', nullable: true })
  cachedTokens: number | null;

  @Column({ name: 'completion_tokens', type: 'integer', nullable: true })
  completionTokens: number | null;

  /** What the draft cost in USD at the price table when it was written; null for templates. */
  @Column({ name: 'llm_cost_usd', type: 'numeric', precision: 14, scale: 8, nullable: true, transformer: { to: (value: number | null) => value, from: (value: string | null) => (value === null ? null : Number(value)) } })
  llmCostUsd: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** When the channel took the message; for an `unknown` one, when it was handed over. */
  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
