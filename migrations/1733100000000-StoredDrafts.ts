import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A message's draft as first written, and what it cost: a retry, a redelivered job or a resumed run sends the
 * stored prose again instead of asking the LLM a second time.
 * - prose_subject, prose_body: the generator's prose, before the server wraps it (greeting, offer, links);
 * - llm_model, prompt_version: which model and prompt wrote it (null for templates);
 * - prompt_tokens (the uncached part), cached_tokens, completion_tokens: the completion's usage.
 */
export class StoredDrafts1733100000000 implements MigrationInterface {
  name = 'StoredDrafts1733100000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE ai_messages
        ADD COLUMN prose_subject text,
        ADD COLUMN prose_body text,
        ADD COLUMN llm_model text,
        ADD COLUMN prompt_version text,
        ADD COLUMN prompt_tokens integer,
        ADD COLUMN cached_tokens integer,
        ADD COLUMN completion_tokens integer`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE ai_messages
        DROP COLUMN prose_subject, DROP COLUMN prose_body, DROP COLUMN llm_model, DROP COLUMN prompt_version,
        DROP COLUMN prompt_tokens, DROP COLUMN cached_tokens, DROP COLUMN completion_tokens`);
  }
}
