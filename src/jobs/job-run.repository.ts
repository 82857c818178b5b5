import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Not, Repository } from 'typeorm';
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

@Injectable()
export class JobRunRepository {
  constructor(@InjectRepository(JobRunEntity) private readonly runs: Repository<JobRunEntity>) {}

  async start(run: NewRun): Promise<JobRunEntity> {
    const now = new Date();
    const entity = this.runs.create({ ...run, id: randomUUID(), status: JobRunStatus.Running, startedAt: now, heartbeatAt: now });
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
    await this.runs.update({ id }, { ...counts, heartbeatAt: new Date() });
  }

  async finish(id: string, status: JobRunStatus.Done | JobRunStatus.Failed, counts: RunCounts, error?: string): Promise<void> {
    const now = new Date();
    await this.runs.update({ id }, { ...counts, status, error: error ?? null, finishedAt: now, heartbeatAt: now });
  }

  /**
   * Closes RUNNING rows left by a process that died mid-run. Called while holding the job's lock, which
   * no live run could be without, so every other non-dry RUNNING row is abandoned.
   */
  async failAbandoned(jobName: string): Promise<number> {
    const result = await this.runs.update(
      { jobName, status: JobRunStatus.Running, dryRun: false },
      { status: JobRunStatus.Failed, error: 'interrupted: the process running it stopped', finishedAt: new Date() },
    );
    return result.affected ?? 0;
  }

  findRunning(jobName: string): Promise<JobRunEntity | null> {
    return this.runs.findOne({
      where: { jobName, status: JobRunStatus.Running, dryRun: false },
      order: { startedAt: 'DESC' },
    });
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
