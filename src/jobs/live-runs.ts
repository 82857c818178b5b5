import { Injectable, Logger } from '@nestjs/common';
import { LockId } from '../database/lock-ids';
import { LockService } from '../database/lock.service';
import { CAMPAIGN_JOB_NAME, LiveRun, PREPARE_JOB_NAME } from './campaign.types';
import { JobRunEntity } from './job-run.entity';
import { JobRunRepository } from './job-run.repository';

/** The jobs that run under a lock and write job_runs rows: a RUNNING row is alive while its job's lock is held under its lease. */
const LOCKS: Record<string, LockId> = {
  [CAMPAIGN_JOB_NAME]: LockId.DailyCampaign,
  [PREPARE_JOB_NAME]: LockId.PrepareDrafts,
};

/**
 * Which runs are alive: a RUNNING row whose lease no longer holds its job's lock was left by a process that died.
 * Readers show such a row as FAILED (job-run.mapper.ts) and never write; the sweeper and the job's next run close it.
 */
@Injectable()
export class LiveRuns {
  private readonly logger = new Logger(LiveRuns.name);

  constructor(
    private readonly jobRuns: JobRunRepository,
    private readonly locks: LockService,
  ) {}

  /** Who holds the job's lock, the run under it, and the job's RUNNING rows whose lease is gone. Only reads. */
  async of(jobName: string): Promise<LiveRun> {
    // Rows before the lease: a run takes its lease before writing its row, so a row read here whose lease
    // is missing below is dead, never one that is only starting.
    const rows = await this.jobRuns.findRunning(jobName);
    const lock = await this.locks.holderOf(LOCKS[jobName]);
    const run = rows.find((row) => lock !== null && row.leaseToken === lock.token) ?? null;
    return { lock, run, abandoned: rows.filter((row) => row !== run) };
  }

  /** Every locked job's RUNNING rows whose lease is gone. Only reads. */
  async abandoned(): Promise<JobRunEntity[]> {
    const live = await Promise.all(Object.keys(LOCKS).map((jobName) => this.of(jobName)));
    return live.flatMap((job) => job.abandoned);
  }

  /** The sweeper's pass: closes the RUNNING rows whose lease is gone as FAILED. */
  async settleAbandoned(): Promise<void> {
    const abandoned = await this.abandoned();
    const settled = await this.jobRuns.settleAbandoned(abandoned.map((row) => row.id));
    if (settled > 0) {
      const runs = abandoned.map((row) => `${row.jobName} ${row.id} (${row.holder ?? 'unknown holder'})`).join(', ');
      this.logger.warn(`Closed ${settled} run(s) as FAILED, their lease expired: ${runs}`);
    }
  }
}
