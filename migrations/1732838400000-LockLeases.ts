import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * - lock_leases: locks that work through a transaction-mode pooler (PgBouncer, Neon's pooled endpoint), where
 *   a session advisory lock lands on whichever server connection the pooler picks and leaks there. A lease is
 *   a row with an expiry its holder renews; a holder that dies stops renewing, and its lock is free again
 *   when the lease expires. Times are the database's clock only.
 * - job_runs.holder and lease_token: which instance runs it, under which lease. A RUNNING row whose lease is
 *   no longer live belongs to a dead process.
 * - job_runs.status INTERRUPTED: the run stopped because its process was shutting down.
 */
export class LockLeases1732838400000 implements MigrationInterface {
  name = 'LockLeases1732838400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE lock_leases (
        id integer PRIMARY KEY,
        name text NOT NULL,
        holder text NOT NULL,
        token uuid NOT NULL,
        acquired_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await db.query(`ALTER TABLE job_runs ADD COLUMN holder text, ADD COLUMN lease_token uuid`);
    await db.query(`
      ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check,
        ADD CONSTRAINT job_runs_status_check CHECK (status IN ('RUNNING', 'DONE', 'FAILED', 'SKIPPED', 'INTERRUPTED'))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE job_runs SET status = 'FAILED' WHERE status = 'INTERRUPTED'`);
    await db.query(`
      ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check,
        ADD CONSTRAINT job_runs_status_check CHECK (status IN ('RUNNING', 'DONE', 'FAILED', 'SKIPPED'))`);
    await db.query(`ALTER TABLE job_runs DROP COLUMN holder, DROP COLUMN lease_token`);
    await db.query(`DROP TABLE lock_leases`);
  }
}
