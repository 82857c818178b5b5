import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, Not, Repository } from 'typeorm';
import { retry } from '../common/retry';
import { JobRunEntity, JobRunStatus, JobTrigger } from './job-run.entity';

export interface RunCounts {
  totalEligible: number;
  processed: number;
  sent: number;
  failed: number;
  skipped: number;
}

export interface NewRun {
  jobType: string;
  jobName: string;
  trigger: JobTrigger;
  correlationId: string;
  attempt: number;
  params: Record<string, unknown>;
  dryRun: boolean;
}

/** Why a RUNNING row whose lease is gone was closed. */
export const ABANDONED_RUN_ERROR = 'abandoned: the process running it stopped without finishing (its lock lease expired)';

@Injectable()
export class JobRunRepository {
  constructor(@InjectRepository(JobRunEntity) private readonly runs: Repository<JobRunEntity>) {}

  /** A run under a lease (`holder`, `leaseToken`); dry runs take no lock and have none. */
  async start(run: NewRun, lease?: { holder: string; token: string }): Promise<JobRunEntity> {
    const now = new Date();
    const entity = this.runs.create({
      ...run,
      id: randomUUID(),
      status: JobRunStatus.Running,
      startedAt: now,
      heartbeatAt: now,
      holder: lease?.holder ?? null,
      leaseToken: lease?.token ?? null,
    });
    return this.runs.save(entity);
  }

  /** A run that did not start (lock held, window closed), recorded so operators see the trigger. */
  async skipped(run: NewRun, reason: string): Promise<JobRunEntity> {
    const now = new Date();
    return this.runs.save(
      this.runs.create({
        ...run,
        id: randomUUID(),
        status: JobRunStatus.Skipped,
        startedAt: now,
        finishedAt: now,
        heartbeatAt: now,
        error: reason,
      }),
    );
  }

  async progress(id: string, counts: RunCounts): Promise<void> {
    await this.runs.update({ id, status: JobRunStatus.Running }, { ...counts, heartbeatAt: new Date() });
  }

  /**
   * Records how a run ended, unless its row was already settled. Retried, each time on a fresh pooled
   * connection: after the database dropped connections mid-run, the first try can land on a dead one.
   */
  async finish(
    id: string,
    status: JobRunStatus.Done | JobRunStatus.Failed | JobRunStatus.Interrupted,
    counts: RunCounts,
    error?: string,
  ): Promise<void> {
    const now = new Date();
    await retry(() =>
      this.runs.update(
        { id, status: JobRunStatus.Running },
        { ...counts, status, error: error ?? null, finishedAt: now, heartbeatAt: now },
      ),
    );
  }

  /** Non-dry RUNNING rows of a job; each is live only while its lease is. */
  findRunning(jobName: string): Promise<JobRunEntity[]> {
    return this.runs.find({ where: { jobName, status: JobRunStatus.Running, dryRun: false }, order: { startedAt: 'DESC' } });
  }

  /** Closes the given RUNNING rows as FAILED: their process stopped without recording an end. */
  async settleAbandoned(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.runs.update(
      { id: In(ids), status: JobRunStatus.Running },
      { status: JobRunStatus.Failed, error: ABANDONED_RUN_ERROR, finishedAt: new Date() },
    );
    return result.affected ?? 0;
  }

  findLast(jobName: string): Promise<JobRunEntity | null> {
    return this.runs.findOne({ where: { jobName }, order: { startedAt: 'DESC' } });
  }

  /** The latest run that tried to send: dry runs and triggers that did not start (SKIPPED) are left out. */
  findLatestAttempt(jobName: string): Promise<JobRunEntity | null> {
    return this.runs.findOne({
      where: { jobName, dryRun: false, status: Not(JobRunStatus.Skipped) },
      order: { startedAt: 'DESC' },
    });
  }

  findLastSuccess(jobName: string): Promise<JobRunEntity | null> {
    return this.runs.findOne({
      where: { jobName, dryRun: false, status: JobRunStatus.Done },
      order: { finishedAt: 'DESC' },
    });
  }

  history(jobType: string | undefined, limit: number): Promise<JobRunEntity[]> {
    return this.runs.find({ where: jobType ? { jobType } : {}, order: { startedAt: 'DESC' }, take: limit });
  }
}
