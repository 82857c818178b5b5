import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Email drafts written ahead of a campaign (POST /internal/ai/smartengage/prepare), owned by Messaging. One per
 * customer and channel: a prepare replaces it, the send takes (deletes) it, a prepare deletes the expired ones.
 * - service_id, tone, message_type: the draft's key as the send sees it;
 * - facts_hash: sha256 of the model, the prompt version and the facts the prompt sees (days counted to the send
 *   day); the send uses the draft only when its own facts hash the same;
 * - batch: written through the Batch API (billed at half price, cost_usd says so);
 * - expires_at: the end of the send day it was written for.
 */
export class PreparedDrafts1733529600000 implements MigrationInterface {
  name = 'PreparedDrafts1733529600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE prepared_drafts (
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
        service_id uuid NOT NULL,
        tone text NOT NULL,
        message_type text NOT NULL,
        facts_hash text NOT NULL,
        subject text NOT NULL,
        prose text NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        prompt_tokens integer,
        cached_tokens integer,
        completion_tokens integer,
        cost_usd numeric(12, 8),
        batch boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (customer_id, channel)
      )`);
    await db.query('CREATE INDEX prepared_drafts_expires_idx ON prepared_drafts (expires_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE prepared_drafts');
  }
}
