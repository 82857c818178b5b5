import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource, In, IsNull, Not, Repository } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { groupCommit } from '../database/group-commit';
import { AiMessageEntity, SafetyViolationRecord } from './ai-message.entity';
import {
  ATTEMPT_CHANGE,
  DeliveryStatus,
  EngagementChange,
  sqlAllowedFrom,
  StatusChange,
  transitionOf,
} from './delivery-status';
import { LlmUsage, Prose } from './message-content';
import { Channel, GeneratorKind, MessageType, Tone } from './message.types';

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

/** `exists`: a row with this id is already there (a redelivered job), so nothing was claimed. */
export type ClaimOutcome = 'claimed' | 'exists' | 'customer_not_found' | 'opted_out' | 'frequency_capped' | 'already_claimed';

/** The draft columns a sending mark fills when its draft was not stored before (DraftRecord.stored). */
const STORED_WITH_MARK = ['prose_subject', 'prose_body', 'llm_model', 'prompt_version', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'llm_cost_usd'];

/** The draft, stored with the `sending` mark before the hand-over. */
export interface DraftRecord {
  subject: string;
  messageText: string;
  generator: GeneratorKind;
  fallbackReason: string | null;
  safetyViolations: SafetyViolationRecord[] | null;
  smsSegments: number | null;
  /**
   * The draft as written, when it is not stored on the row yet (a prepared draft, which needs no storing before
   * the send: it stays in prepared_drafts until then): stored with the mark, in the same statement.
   */
  stored?: StoredDraft;
  /**
   * The prepared draft `stored` came from: the mark deletes it in the same statement, so a send interrupted
   * before its mark finds it again, and once on a message it is used (and billed) by no other.
   */
  prepared?: { customerId: string; channel: Channel; factsHash: string };
}

/** A draft as first written, stored before the send: a retry sends it again rather than drafting anew. */
export interface StoredDraft {
  prose: Prose;
  generator: GeneratorKind;
  fallbackReason: string | null;
  safetyViolations: SafetyViolationRecord[] | null;
  /** The LLM's model, prompt version and usage; null for templates. */
  model: string | null;
  promptVersion: string | null;
  usage: LlmUsage | null;
  /** USD at the price table when it was written; null for templates. */
  costUsd: number | null;
}

/** How an attempt ended: `queued` when it will be retried. */
export type AttemptRecord =
  | { status: DeliveryStatus.Sent; providerMessageId: string; error?: undefined }
  | { status: DeliveryStatus.Failed | DeliveryStatus.Unknown | DeliveryStatus.Queued; error: string; providerMessageId?: undefined };

/** A `sending` SMS row the sweeper hands to the gateway again (same id, so the same Idempotency-Key). */
export interface StaleSms {
  id: string;
  recipient: string;
  draft: DraftRecord;
  attempts: number;
}

/** The LLM drafts of one run: how many, their tokens as billed, and their cost in USD. */
export interface RunLlmUsage extends LlmUsage {
  drafts: number;
  costUsd: number;
}

/** A campaign run's messages that are not final yet, by state (GET /internal/jobs/runs/{id}). */
export interface RunMessageCounts {
  /** queued for a first attempt, or sending */
  active: number;
  /** queued again after a failed attempt */
  retrying: number;
  unknown: number;
}

/**
 * Which interrupted rows to settle: those unchanged since `staleBefore`, or these ids (at shutdown). With
 * `releaseOnly`, a stale `queued` row is released only if it is one of these (queue mode: rows whose job is gone).
 */
export type InterruptedScope = { staleBefore: Date; releaseOnly?: string[] } | { ids: string[] };

/** A `queued` row unchanged since the sweeper's cut-off: its job id and the queue it went to. */
export interface StaleQueued {
  id: string;
  channel: Channel;
}

/** The channels of the rows settled: queued → failed, and sending → unknown. */
export interface SettledRows {
  released: Channel[];
  unknown: Channel[];
}

/** Why a stale `queued` row failed: it never reached `sending`. */
export const INTERRUPTED_BEFORE_SENDING = 'interrupted before sending';
/** Why a stale `sending` email is `unknown`; its sent_at is the hand-over (the `sending` mark). */
export const INTERRUPTED_WHILE_SENDING = 'interrupted while sending: the mail server may or may not have taken it';

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

interface StaleSmsRow {
  id: string;
  recipient: string;
  attempts: number;
  subject: string | null;
  message_text: string;
  generator: GeneratorKind;
  fallback_reason: string | null;
  safety_violations: SafetyViolationRecord[] | null;
  sms_segments: number | null;
}

/** One state change for the batched UPDATE: a `sending` mark with its draft, or how an attempt ended. */
type StateChange =
  | { id: string; draft: DraftRecord; record?: undefined }
  | { id: string; record: AttemptRecord; draft?: undefined };

const ERROR_MAX_LENGTH = 1000;

/**
 * A failed message does not count against the frequency cap: Segmentation's refresh_last_message_at() sets
 * customers.last_message_at (which it filters on) back to the customer's latest message that did not fail.
 */
const REFRESH_LAST_MESSAGE_AT = 'SELECT refresh_last_message_at($1::uuid[])';

/** A status as an SQL literal (the enum's values are plain words). */
const sqlStatus = (status: DeliveryStatus) => `'${status}'`;
const SENDING = sqlStatus(DeliveryStatus.Sending);

/** The status an attempt record leaves a row in: its change's target where the row's status allows it, else as it was. */
const STATUS_AFTER_RECORD = `CASE
${Object.entries(ATTEMPT_CHANGE)
  .map(([status, change]) => `                      WHEN r.status = '${status}' AND ${sqlAllowedFrom(change, 'm.delivery_status')} THEN ${sqlStatus(transitionOf(change).to)}`)
  .join('\n')}
                      ELSE m.delivery_status END`;

@Injectable()
export class AiMessageRepository {
  /**
   * The pg pool under TypeORM, for the statements every message runs (claim, record): going through
   * DataSource.query costs ~50 µs more Node CPU per statement, which showed in the campaign benchmark.
   */
  private readonly pool: Pool;
  /**
   * Concurrent claims share statements and commits (see groupCommit); so do sending marks and attempt records,
   * together in one statement, so the `sending` mark adds no round trip or commit of its own under load.
   */
  private readonly claimOne: (request: ClaimRequest) => Promise<ClaimOutcome>;
  private readonly changeOne: (change: StateChange) => Promise<boolean>;
  private readonly storeOne: (item: { id: string; draft: StoredDraft }) => Promise<boolean>;

  constructor(
    dataSource: DataSource,
    @InjectRepository(AiMessageEntity) private readonly messages: Repository<AiMessageEntity>,
  ) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
    this.claimOne = groupCommit((requests) => this.claimBatch(requests));
    this.changeOne = groupCommit((changes) => this.changeBatch(changes));
    this.storeOne = groupCommit((items) => this.storeDraftBatch(items));
  }

  /**
   * Checks opt-out, the campaign-day key and the frequency cap, and writes the queued row, under the
   * customer's row lock (claim_ai_message): two concurrent sends to one customer cannot both pass.
   */
  claim(request: ClaimRequest): Promise<ClaimOutcome> {
    return this.claimOne(request);
  }

  /**
   * Stores the draft and moves the row from `queued` to `sending`, counting the attempt, before the message is
   * handed to its channel. False when the row is no longer `queued` (the sweeper released it): do not send.
   */
  markSending(id: string, draft: DraftRecord): Promise<boolean> {
    return this.changeOne({ id, draft });
  }

  /**
   * Records how an attempt ended. A final status only replaces `sending` or `unknown` (an event may already
   * have moved the row further); `queued`, for a retry, only replaces `sending`. A failed message gives its
   * frequency-cap slot back.
   */
  async recordAttempt(id: string, record: AttemptRecord): Promise<void> {
    await this.changeOne({ id, record });
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

  private async changeBatch(changes: readonly StateChange[]): Promise<(boolean | Error)[]> {
    const rows = changes.map(({ id, draft, record }) => ({
      id,
      kind: draft ? 'mark' : 'record',
      subject: draft?.subject,
      message_text: draft?.messageText,
      generator: draft?.generator,
      fallback_reason: draft?.fallbackReason,
      safety_violations: draft?.safetyViolations,
      sms_segments: draft?.smsSegments,
      prose_subject: draft?.stored?.prose.subject ?? null,
      prose_body: draft?.stored?.prose.body ?? null,
      llm_model: draft?.stored?.model ?? null,
      prompt_version: draft?.stored?.promptVersion ?? null,
      prompt_tokens: draft?.stored?.usage?.input ?? null,
      cached_tokens: draft?.stored?.usage?.cachedInput ?? null,
      completion_tokens: draft?.stored?.usage?.output ?? null,
      llm_cost_usd: draft?.stored?.costUsd ?? null,
      prepared_customer_id: draft?.prepared?.customerId ?? null,
      prepared_channel: draft?.prepared?.channel ?? null,
      prepared_hash: draft?.prepared?.factsHash ?? null,
      status: record?.status,
      provider_message_id: record?.providerMessageId ?? null,
      error: record?.error?.slice(0, ERROR_MAX_LENGTH) ?? null,
    }));
    // A mark moves only the rows its change allows (the WHERE is checked again on the latest version of a row
    // another transaction changed). A record's status only replaces what its change allows, since an event may
    // already have moved the row further; its provider id, error and send time are stored either way.
    // Not a named (prepared) statement on purpose: that would keep the plan made while the table was small (a
    // hash join over a sequential scan) for the whole session; planned each time, it is index lookups by id.
    const { rows: changed } = await this.pool.query<{ id: string }>({
      text: `WITH r AS (
               SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
                      id uuid, kind text, subject text, message_text text, generator text, fallback_reason text,
                      safety_violations jsonb, sms_segments smallint, prose_subject text, prose_body text, llm_model text,
                      prompt_version text, prompt_tokens integer, cached_tokens integer, completion_tokens integer,
                      llm_cost_usd numeric, prepared_customer_id uuid, prepared_channel text, prepared_hash text,
                      status text, provider_message_id text, error text)
             ), used AS (
               DELETE FROM prepared_drafts p USING r
                WHERE r.kind = 'mark' AND p.customer_id = r.prepared_customer_id AND p.channel = r.prepared_channel
                  AND p.facts_hash = r.prepared_hash
             )
             UPDATE ai_messages m
                SET delivery_status = CASE WHEN r.kind = 'mark' THEN ${sqlStatus(transitionOf(StatusChange.Send).to)}
                      ELSE ${STATUS_AFTER_RECORD} END,
                    attempts = m.attempts + (r.kind = 'mark')::int,
                    subject = CASE WHEN r.kind = 'mark' THEN r.subject ELSE m.subject END,
                    message_text = CASE WHEN r.kind = 'mark' THEN r.message_text ELSE m.message_text END,
                    generator = CASE WHEN r.kind = 'mark' THEN r.generator ELSE m.generator END,
                    fallback_reason = CASE WHEN r.kind = 'mark' THEN r.fallback_reason ELSE m.fallback_reason END,
                    safety_violations = CASE WHEN r.kind = 'mark' THEN r.safety_violations ELSE m.safety_violations END,
                    sms_segments = CASE WHEN r.kind = 'mark' THEN r.sms_segments ELSE m.sms_segments END,
                    ${STORED_WITH_MARK.map((column) => `${column} = CASE WHEN r.prose_body IS NOT NULL AND m.prose_body IS NULL THEN r.${column} ELSE m.${column} END`).join(',\n                    ')},
                    provider_message_id = coalesce(r.provider_message_id, m.provider_message_id),
                    last_error = coalesce(r.error, m.last_error),
                    sent_at = CASE WHEN r.status = 'sent' THEN now()
                                   WHEN r.status = 'unknown' THEN coalesce(m.sent_at, m.updated_at) ELSE m.sent_at END,
                    updated_at = now()
               FROM r
              WHERE m.id = r.id AND (r.kind = 'record' OR ${sqlAllowedFrom(StatusChange.Send, 'm.delivery_status')})
          RETURNING m.id`,
      values: [jsonParameter(rows)],
    });
    const moved = new Set(changed.map((row) => row.id));
    return changes.map((change) => moved.has(change.id));
  }

  /**
   * Stores the draft of a message that has none yet and was not handed over: only where the declared Send
   * change may still apply (`queued`). It fills draft columns and moves no status. False when it already had a
   * draft or moved on.
   */
  storeDraft(id: string, draft: StoredDraft): Promise<boolean> {
    return this.storeOne({ id, draft });
  }

  /** Concurrent drafts (a campaign sending prepared ones) share one statement and commit, as claims do. */
  private async storeDraftBatch(items: readonly { id: string; draft: StoredDraft }[]): Promise<boolean[]> {
    const rows = items.map(({ id, draft }) => ({
      id,
      prose_subject: draft.prose.subject,
      prose_body: draft.prose.body,
      generator: draft.generator,
      fallback_reason: draft.fallbackReason,
      safety_violations: draft.safetyViolations ?? null,
      llm_model: draft.model,
      prompt_version: draft.promptVersion,
      prompt_tokens: draft.usage?.input ?? null,
      cached_tokens: draft.usage?.cachedInput ?? null,
      completion_tokens: draft.usage?.output ?? null,
      llm_cost_usd: draft.costUsd,
    }));
    const { rows: stored } = await this.pool.query<{ id: string }>({
      text: `UPDATE ai_messages m
                SET prose_subject = d.prose_subject, prose_body = d.prose_body, generator = d.generator,
                    fallback_reason = d.fallback_reason, safety_violations = d.safety_violations, llm_model = d.llm_model,
                    prompt_version = d.prompt_version, prompt_tokens = d.prompt_tokens, cached_tokens = d.cached_tokens,
                    completion_tokens = d.completion_tokens, llm_cost_usd = d.llm_cost_usd, updated_at = now()
               FROM jsonb_to_recordset($1::jsonb) AS d(
                      id uuid, prose_subject text, prose_body text, generator text, fallback_reason text, safety_violations jsonb,
                      llm_model text, prompt_version text, prompt_tokens integer, cached_tokens integer, completion_tokens integer,
                      llm_cost_usd numeric)
              WHERE m.id = d.id AND ${sqlAllowedFrom(StatusChange.Send, 'm.delivery_status')} AND m.prose_body IS NULL
          RETURNING m.id`,
      values: [jsonParameter(rows)],
    });
    const done = new Set(stored.map((row) => row.id));
    return items.map((item) => done.has(item.id));
  }

  /** A claim whose draft was rejected: nothing was sent. */
  async markFailed(id: string, error: string): Promise<void> {
    const { from, to } = transitionOf(StatusChange.Abandon);
    await this.messages.update({ id, deliveryStatus: In([...from]) }, { deliveryStatus: to, lastError: error.slice(0, ERROR_MAX_LENGTH) });
    await this.releaseCapSlot(id);
  }

  /**
   * What a reader's event does to its message (open, click, booking, unsubscribe): the status moves up, never
   * down, as the change allows. True when the row moved.
   */
  async advance(id: string, change: EngagementChange): Promise<boolean> {
    const { from, to } = transitionOf(change);
    const { rowCount } = await this.pool.query(
      'UPDATE ai_messages SET delivery_status = $2, updated_at = now() WHERE id = $1 AND delivery_status = ANY($3::text[])',
      [id, to, from],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Counts another hand-over of a `sending` row (an SMS sent again); its attempts, or null if it left `sending`. */
  async touchSending(id: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ attempts: number }>(
      `UPDATE ai_messages SET attempts = attempts + 1, updated_at = now()
        WHERE id = $1 AND delivery_status = ${SENDING} RETURNING attempts`,
      [id],
    );
    return rows[0]?.attempts ?? null;
  }

  /**
   * Settles interrupted messages. `queued` ones never reached the channel: they fail with
   * INTERRUPTED_BEFORE_SENDING and give back their cap slot and their campaign-day claim, so the next run (or
   * the next day) picks the customer up. `sending` ones on `unknownChannels` become `unknown` and keep both.
   */
  async settleInterrupted(scope: InterruptedScope, unknownChannels: Channel[]): Promise<SettledRows> {
    const [where, value] =
      'ids' in scope ? ['id = ANY($1::uuid[])', scope.ids] : ['updated_at < $1', scope.staleBefore];
    const releaseOnly = 'ids' in scope ? null : (scope.releaseOnly ?? null);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const released = await client.query<{ user_id: string; channel: Channel }>(
        `UPDATE ai_messages SET delivery_status = $3, last_error = $2, campaign_day = NULL, updated_at = now()
          WHERE ${sqlAllowedFrom(StatusChange.Abandon)} AND ${where} AND ($4::uuid[] IS NULL OR id = ANY($4::uuid[]))
      RETURNING user_id, channel`,
        [value, INTERRUPTED_BEFORE_SENDING, transitionOf(StatusChange.Abandon).to, releaseOnly],
      );
      const userIds = [...new Set(released.rows.map((row) => row.user_id))];
      if (userIds.length > 0) await client.query(REFRESH_LAST_MESSAGE_AT, [userIds]);
      const unknown = await client.query<{ channel: Channel }>(
        `UPDATE ai_messages SET delivery_status = $4, last_error = $2, sent_at = updated_at, updated_at = now()
          WHERE ${sqlAllowedFrom(StatusChange.Lose)} AND channel = ANY($3::text[]) AND ${where}
      RETURNING channel`,
        [value, INTERRUPTED_WHILE_SENDING, unknownChannels, transitionOf(StatusChange.Lose).to],
      );
      await client.query('COMMIT');
      return { released: released.rows.map((row) => row.channel), unknown: unknown.rows.map((row) => row.channel) };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** `queued` rows unchanged since `staleBefore`, oldest first, at most `limit` (over ai_messages_delivery_status_idx). */
  async findStaleQueued(staleBefore: Date, limit: number): Promise<StaleQueued[]> {
    const { rows } = await this.pool.query<StaleQueued>(
      `SELECT id, channel FROM ai_messages WHERE delivery_status = 'queued' AND updated_at < $1 ORDER BY updated_at LIMIT $2`,
      [staleBefore, limit],
    );
    return rows;
  }

  /**
   * Stale `sending` SMS. Those with attempts left are taken for another hand-over (the attempt is counted and
   * the row touched, so a second sweeper does not take them too); the others become `unknown`.
   */
  async takeStaleSms(staleBefore: Date, maxAttempts: number): Promise<{ resend: StaleSms[]; unknown: number }> {
    const { rows } = await this.pool.query<StaleSmsRow>(
      `UPDATE ai_messages SET attempts = attempts + 1, updated_at = now()
        WHERE delivery_status = ${SENDING} AND channel = '${Channel.Sms}' AND updated_at < $1 AND attempts < $2
    RETURNING id, recipient, attempts, subject, message_text, generator, fallback_reason, safety_violations, sms_segments`,
      [staleBefore, maxAttempts],
    );
    const { rowCount } = await this.pool.query(
      `UPDATE ai_messages SET delivery_status = $3, last_error = $2, sent_at = updated_at, updated_at = now()
        WHERE ${sqlAllowedFrom(StatusChange.Lose)} AND channel = '${Channel.Sms}' AND updated_at < $1`,
      [staleBefore, INTERRUPTED_WHILE_SENDING, transitionOf(StatusChange.Lose).to],
    );
    const resend = rows.map((row) => ({
      id: row.id,
      recipient: row.recipient,
      attempts: row.attempts,
      draft: {
        subject: row.subject ?? '',
        messageText: row.message_text,
        generator: row.generator,
        fallbackReason: row.fallback_reason,
        safetyViolations: row.safety_violations,
        smsSegments: row.sms_segments,
      },
    }));
    return { resend, unknown: rowCount ?? 0 };
  }

  private async releaseCapSlot(id: string): Promise<void> {
    await this.pool.query('SELECT refresh_last_message_at(ARRAY(SELECT user_id FROM ai_messages WHERE id = $1))', [id]);
  }

  /** Counts a run's messages in flight by state, over ai_messages_job_run_idx. */
  async countInFlightOfRun(jobRunId: string): Promise<RunMessageCounts> {
    const { rows } = await this.pool.query<RunMessageCounts>(
      `SELECT count(*) FILTER (WHERE delivery_status = 'sending' OR (delivery_status = 'queued' AND attempts = 0))::int AS active,
              count(*) FILTER (WHERE delivery_status = 'queued' AND attempts > 0)::int AS retrying,
              count(*) FILTER (WHERE delivery_status = 'unknown')::int AS unknown
         FROM ai_messages WHERE job_run_id = $1 AND delivery_status IN ('queued', 'sending', 'unknown')`,
      [jobRunId],
    );
    return rows[0];
  }

  /**
   * What the LLM wrote for these runs and what it cost, from ai_messages_job_run_llm_idx alone: a run's drafts
   * are on its messages, wherever they were written (this process, a worker, a prepared batch).
   */
  async llmUsageOfRuns(jobRunIds: string[]): Promise<Map<string, RunLlmUsage>> {
    if (jobRunIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ job_run_id: string; drafts: number; input: string; cached_input: string; output: string; cost_usd: string }>(
      `SELECT job_run_id, count(*)::int AS drafts, sum(prompt_tokens) AS input, sum(coalesce(cached_tokens, 0)) AS cached_input,
              sum(coalesce(completion_tokens, 0)) AS output, sum(coalesce(llm_cost_usd, 0)) AS cost_usd
         FROM ai_messages WHERE job_run_id = ANY($1::uuid[]) AND prompt_tokens IS NOT NULL
        GROUP BY job_run_id`,
      [jobRunIds],
    );
    return new Map(
      rows.map((row) => [
        row.job_run_id,
        { drafts: row.drafts, input: Number(row.input), cachedInput: Number(row.cached_input), output: Number(row.output), costUsd: Number(row.cost_usd) },
      ]),
    );
  }

  /** The customers of a run whose message is still `queued` (waiting for a retry when the run stopped). */
  async findQueuedCustomersOfRun(jobRunId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ user_id: string }>(
      `SELECT user_id FROM ai_messages WHERE job_run_id = $1 AND delivery_status = 'queued'`,
      [jobRunId],
    );
    return rows.map((row) => row.user_id);
  }

  /** The delivery status of each of these messages that has a row. */
  async deliveryStatusesOf(ids: string[]): Promise<Map<string, DeliveryStatus>> {
    if (ids.length === 0) return new Map();
    const { rows } = await this.pool.query<{ id: string; delivery_status: DeliveryStatus }>(
      'SELECT id, delivery_status FROM ai_messages WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.delivery_status]));
  }

  /** Messages per delivery status, for the ai_messages_delivery_status gauge. */
  async countByStatus(): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ status: string; count: number }>(
      'SELECT delivery_status AS status, count(*)::int AS count FROM ai_messages GROUP BY 1',
    );
    return new Map(rows.map((row) => [row.status, Number(row.count)]));
  }

  findById(id: string): Promise<AiMessageEntity | null> {
    return this.messages.findOneBy({ id });
  }

  /** The customer's latest SMS handed to the gateway: the one a reply answers (ai_messages_user_created_idx). */
  findLatestSentSms(customerId: string): Promise<AiMessageEntity | null> {
    return this.messages.findOne({
      where: { userId: customerId, channel: Channel.Sms, sentAt: Not(IsNull()) },
      order: { createdAt: 'DESC' },
    });
  }
}
