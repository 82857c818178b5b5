import { MigrationInterface, QueryRunner } from 'typeorm';

const STATUSES_BEFORE = `'RUNNING', 'DONE', 'FAILED', 'SKIPPED', 'INTERRUPTED'`;

/**
 * Run control (pause, resume, cancel) and live progress of a campaign run:
 * - job_runs.status PAUSED (an operator or the auto-pause stopped it; resumable) and CANCELLED (final);
 * - job_runs.resume_state: where a stopped run picks up (the campaign day, the cursor of the page in progress
 *   and the ids of that page's customers already counted), written with the counts so the two always agree;
 * - job_runs.in_flight: customers handed to the fan-out and not finished yet;
 * - ai_messages_job_run_idx: the per-run status counts of GET /internal/jobs/runs/{id}. job_run_id never
 *   changes after the claim, so status updates stay HOT.
 */
export class RunControl1733011200000 implements MigrationInterface {
  name = 'RunControl1733011200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check,
        ADD CONSTRAINT job_runs_status_check CHECK (status IN (${STATUSES_BEFORE}, 'PAUSED', 'CANCELLED'))`);
    await db.query(`ALTER TABLE job_runs ADD COLUMN resume_state jsonb, ADD COLUMN in_flight integer NOT NULL DEFAULT 0`);
    await db.query(`CREATE INDEX ai_messages_job_run_idx ON ai_messages (job_run_id) WHERE job_run_id IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ai_messages_job_run_idx`);
    await db.query(`ALTER TABLE job_runs DROP COLUMN resume_state, DROP COLUMN in_flight`);
    await db.query(`UPDATE job_runs SET status = 'INTERRUPTED' WHERE status = 'PAUSED'`);
    await db.query(`UPDATE job_runs SET status = 'FAILED' WHERE status = 'CANCELLED'`);
    await db.query(`
      ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check,
        ADD CONSTRAINT job_runs_status_check CHECK (status IN (${STATUSES_BEFORE}))`);
  }
}
