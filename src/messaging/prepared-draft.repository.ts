import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { groupCommit } from '../database/group-commit';
import { LlmUsage, Prose } from './message-content';
import { Channel, MessageType, Tone } from './message.types';

/** Which draft a send would use: one per customer and channel, for this service, tone and message type. */
export interface DraftKey {
  customerId: string;
  channel: Channel;
  serviceId: string;
  tone: Tone;
  messageType: MessageType;
}

/** A draft written ahead of its send (prepared_drafts, owned by Messaging). */
export interface PreparedDraft extends DraftKey {
  factsHash: string;
  prose: Prose;
  model: string;
  promptVersion: string;
  usage: LlmUsage | null;
  costUsd: number | null;
  /** Written through the Batch API, at half price. */
  batch: boolean;
  expiresAt: Date;
}

interface Row {
  customer_id: string;
  channel: Channel;
  service_id: string;
  tone: Tone;
  message_type: MessageType;
  facts_hash: string;
  subject: string;
  prose: string;
  model: string;
  prompt_version: string;
  prompt_tokens: number | null;
  cached_tokens: number | null;
  completion_tokens: number | null;
  cost_usd: string | null;
  batch: boolean;
  expires_at: Date;
}

@Injectable()
export class PreparedDraftRepository {
  /** Concurrent sends read their drafts in shared statements (see groupCommit): one round trip per batch. */
  private readonly findOne: (key: { customerId: string; channel: Channel }) => Promise<PreparedDraft | null>;

  constructor(private readonly dataSource: DataSource) {
    this.findOne = groupCommit((keys) => this.findBatch(keys));
  }

  /** Writes the drafts, each replacing the customer's earlier one on the same channel. */
  async save(drafts: PreparedDraft[]): Promise<void> {
    if (drafts.length === 0) return;
    const column = <T>(pick: (draft: PreparedDraft) => T) => drafts.map(pick);
    await this.dataSource.query(
      `INSERT INTO prepared_drafts (customer_id, channel, service_id, tone, message_type, facts_hash, subject, prose, model,
                                    prompt_version, prompt_tokens, cached_tokens, completion_tokens, cost_usd, batch, expires_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                            $9::text[], $10::text[], $11::int[], $12::int[], $13::int[], $14::numeric[], $15::bool[], $16::timestamptz[])
       ON CONFLICT (customer_id, channel) DO UPDATE
          SET service_id = excluded.service_id, tone = excluded.tone, message_type = excluded.message_type,
              facts_hash = excluded.facts_hash, subject = excluded.subject, prose = excluded.prose, model = excluded.model,
              prompt_version = excluded.prompt_version, prompt_tokens = excluded.prompt_tokens,
              cached_tokens = excluded.cached_tokens, completion_tokens = excluded.completion_tokens,
              cost_usd = excluded.cost_usd, batch = excluded.batch, created_at = now(), expires_at = excluded.expires_at`,
      [
        column((d) => d.customerId),
        column((d) => d.channel),
        column((d) => d.serviceId),
        column((d) => d.tone),
        column((d) => d.messageType),
        column((d) => d.factsHash),
        column((d) => d.prose.subject),
        column((d) => d.prose.body),
        column((d) => d.model),
        column((d) => d.promptVersion),
        column((d) => d.usage?.input ?? null),
        column((d) => d.usage?.cachedInput ?? null),
        column((d) => d.usage?.output ?? null),
        column((d) => d.costUsd),
        column((d) => d.batch),
        column((d) => d.expiresAt),
      ],
    );
  }

  /**
   * The customer's draft for the channel; null when there is none. It stays until it expires (a prepare deletes
   * expired drafts): a send that stops before its sending mark stored the draft finds it again.
   */
  find(customerId: string, channel: Channel): Promise<PreparedDraft | null> {
    return this.findOne({ customerId, channel });
  }

  private async findBatch(keys: readonly { customerId: string; channel: Channel }[]): Promise<(PreparedDraft | null)[]> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT d.* FROM prepared_drafts d
         JOIN unnest($1::uuid[], $2::text[]) AS k (customer_id, channel) ON d.customer_id = k.customer_id AND d.channel = k.channel`,
      [keys.map((key) => key.customerId), keys.map((key) => key.channel)],
    );
    const taken = new Map(rows.map((row) => [`${row.customer_id}:${row.channel}`, fromRow(row)]));
    return keys.map((key) => taken.get(`${key.customerId}:${key.channel}`) ?? null);
  }

  /** The facts hashes of the drafts of these customers that are still fresh: a prepare does not write them again. */
  async freshHashes(customerIds: string[], channel: Channel, now: Date): Promise<Map<string, string>> {
    if (customerIds.length === 0) return new Map();
    const rows: { customer_id: string; facts_hash: string }[] = await this.dataSource.query(
      'SELECT customer_id, facts_hash FROM prepared_drafts WHERE customer_id = ANY($1::uuid[]) AND channel = $2 AND expires_at > $3',
      [customerIds, channel, now],
    );
    return new Map(rows.map((row) => [row.customer_id, row.facts_hash]));
  }

  /** Deletes the drafts past their send day; how many. */
  async deleteExpired(now: Date): Promise<number> {
    const [, count]: [unknown, number] = await this.dataSource.query('DELETE FROM prepared_drafts WHERE expires_at <= $1', [now]);
    return count;
  }
}

function fromRow(row: Row): PreparedDraft {
  return {
    customerId: row.customer_id,
    channel: row.channel,
    serviceId: row.service_id,
    tone: row.tone,
    messageType: row.message_type,
    factsHash: row.facts_hash,
    prose: { subject: row.subject, body: row.prose },
    model: row.model,
    promptVersion: row.prompt_version,
    usage:
      row.prompt_tokens === null
        ? null
        : { input: row.prompt_tokens, cachedInput: row.cached_tokens ?? 0, output: row.completion_tokens ?? 0 },
    costUsd: row.cost_usd === null ? null : Number(row.cost_usd),
    batch: row.batch,
    expiresAt: row.expires_at,
  };
}
