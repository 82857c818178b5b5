import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * job_runs.unknown: customers whose message may or may not have gone out (the row ended `unknown`, or was still
 * `sending` when the run ended). They used to be counted as failed, which a run's rows contradicted.
 */
export class RunUnknownCount1733184000000 implements MigrationInterface {
  name = 'RunUnknownCount1733184000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE job_runs ADD COLUMN unknown integer NOT NULL DEFAULT 0`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE job_runs SET failed = failed + unknown`);
    await db.query(`ALTER TABLE job_runs DROP COLUMN unknown`);
  }
}
