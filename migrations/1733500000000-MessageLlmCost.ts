import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a message's draft cost, in USD at the OPENAI_PRICE_* table when it was written (a Batch API draft at half
 * price): a run's cost is the sum over its messages (ai_messages_job_run_idx), and a later price change does not
 * rewrite what was paid. Null for templates and for messages drafted before this column.
 */
export class MessageLlmCost1733500000000 implements MigrationInterface {
  name = 'MessageLlmCost1733500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE ai_messages ADD COLUMN llm_cost_usd numeric(14, 8)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE ai_messages DROP COLUMN llm_cost_usd`);
  }
}
