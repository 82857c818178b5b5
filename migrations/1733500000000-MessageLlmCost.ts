import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a message's draft cost, in USD at the OPENAI_PRICE_* table when it was written (a Batch API draft at half
 * price): a run's cost is the sum over its messages, and a later price change does not rewrite what was paid.
 * Null for templates and for messages drafted before this column.
 * - ai_messages_job_run_llm_idx: a run's LLM tokens and cost (job status, run history, run control) are summed
 *   from this index alone (an index-only scan), without reading a million message rows; only messages the LLM
 *   was asked for are in it.
 */
export class MessageLlmCost1733500000000 implements MigrationInterface {
  name = 'MessageLlmCost1733500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE ai_messages ADD COLUMN llm_cost_usd numeric(14, 8)`);
    await db.query(`
      CREATE INDEX ai_messages_job_run_llm_idx ON ai_messages (job_run_id)
        INCLUDE (prompt_tokens, cached_tokens, completion_tokens, llm_cost_usd)
        WHERE job_run_id IS NOT NULL AND prompt_tokens IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ai_messages_job_run_llm_idx`);
    await db.query(`ALTER TABLE ai_messages DROP COLUMN llm_cost_usd`);
  }
}
