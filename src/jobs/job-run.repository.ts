import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, IsNull, Not, Repository } from 'typeorm';
import { retry } from '../common/retry';
import { JobRunEntity, JobRunStatus, JobTrigger, ResumeState } from './job-run.entity';

export interface RunCounts {
  totalEligible: number;
  processed: number;
  sent: number;
  failed: number;
  skipped: number;
  /** May or may not have gone out; not failed. */
  unknown: number;
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

/** How a run ends: DONE, FAILED or INTERRUPTED by its producer, PAUSED or CANCELLED by run control. */
export type EndStatus =
  | JobRunStatus.Done
  | JobRunStatus.Failed
  | JobRunStatus.Interrupted
  | JobRunStatus.Paused
  | JobRunStatus.Cancelled;

/** A run's status and reason as the row has them. */
export interface RunState {
  status: JobRunStatus;
  error: string | null;
}

/** The producer's own write, under the lease it runs with (null for dry runs). */
export interface ProducerWrite {
  id: string;
  leaseToken: string | null;
  counts: RunCounts;
  inFlight: number;
  resumeState: ResumeState;
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

  /**
   * The producer's heartbeat: customers in flight, and with `progress` the counts and resume state (left as
   * they are otherwise: the resume state is up to ~37 KB), while the row is RUNNING under its lease. Answers the
   * row's state, so a producer learns within one heartbeat that it was paused or cancelled (on any replica);
   * null when the row is gone.
   */
  async heartbeat(write: ProducerWrite, progress = true): Promise<RunState | null> {
    const params = producerParams(write);
    const [rows]: [RunState[], number] = await this.runs.query(
      `UPDATE job_runs
          SET total_eligible = CASE WHEN $12 THEN $3 ELSE total_eligible END,
              processed = CASE WHEN $12 THEN $4 ELSE processed END, sent = CASE WHEN $12 THEN $5 ELSE sent END,
              failed = CASE WHEN $12 THEN $6 ELSE failed END, skipped = CASE WHEN $12 THEN $7 ELSE skipped END,
              unknown = CASE WHEN $12 THEN $11 ELSE unknown END, in_flight = $8,
              resume_state = CASE WHEN $12 THEN $9::jsonb ELSE resume_state END, heartbeat_at = $10
        WHERE id = $1 AND status = 'RUNNING' AND lease_token IS NOT DISTINCT FROM $2::uuid
    RETURNING status, error`,
      [...params.slice(0, 8), progress ? params[8] : null, new Date(), write.counts.unknown, progress],
    );
    if (rows.length > 0) return rows[0];
    const row = await this.runs.findOne({ where: { id: write.id }, select: { status: true, error: true } });
    return row ? { status: row.status, error: row.error } : null;
  }

  /**
   * Records where a producer stopped. A RUNNING row takes `status` and `error`; a row run control already
   * paused or cancelled keeps its own. Either way the counts and resume state are the producer's, and
   * finished_at says it has stopped. Rows settled meanwhile (FAILED as abandoned) or taken over under another
   * lease are left alone (null). Retried, each time on a fresh pooled connection: after the database dropped
   * connections mid-run, the first try can land on a dead one.
   */
  async finish(write: ProducerWrite, status: EndStatus, error?: string): Promise<RunState | null> {
    // Times from this clock, in milliseconds, as the rows' other times (the metrics compare them).
    const now = new Date();
    const [rows]: [RunState[], number] = await retry(() =>
      this.runs.query(
        `UPDATE job_runs
            SET status = CASE WHEN status = 'RUNNING' THEN $10 ELSE status END,
                error = CASE WHEN status = 'RUNNING' THEN $11 ELSE error END,
                total_eligible = $3, processed = $4, sent = $5, failed = $6, skipped = $7, in_flight = $8,
                resume_state = $9, finished_at = $12, heartbeat_at = $12, unknown = $13
          WHERE id = $1 AND status IN ('RUNNING', 'PAUSED', 'CANCELLED')
            AND lease_token IS NOT DISTINCT FROM $2::uuid AND finished_at IS NULL
      RETURNING status, error`,
        [...producerParams(write), status, error ?? null, now, write.counts.unknown],
      ),
    );
    return rows[0] ?? null;
  }

  /**
   * A job without a resume state (a prepare): its counts and heartbeat, and `params` merged into its params,
   * while it is RUNNING under its lease. The row's status, so the job sees a pause or cancel; null when gone.
   */
  async progress(id: string, leaseToken: string, counts: RunCounts, params: Record<string, unknown> = {}): Promise<JobRunStatus | null> {
    const [rows]: [{ status: JobRunStatus }[], number] = await this.runs.query(
      `UPDATE job_runs
          SET total_eligible = $3, processed = $4, sent = $5, failed = $6, skipped = $7, params = params || $8::jsonb,
              heartbeat_at = now()
        WHERE id = $1 AND status = 'RUNNING' AND lease_token = $2
    RETURNING status`,
      [id, leaseToken, counts.totalEligible, counts.processed, counts.sent, counts.failed, counts.skipped, JSON.stringify(params)],
    );
    if (rows.length > 0) return rows[0].status;
    return (await this.runs.findOne({ where: { id }, select: { status: true } }))?.status ?? null;
  }

  /** Ends a job without a resume state; a row run control paused or cancelled keeps that status and reason. */
  async end(id: string, leaseToken: string, counts: RunCounts, status: EndStatus, error?: string): Promise<void> {
    await retry(() =>
      this.runs.query(
        `UPDATE job_runs
            SET status = CASE WHEN status = 'RUNNING' THEN $3 ELSE status END,
                error = CASE WHEN status = 'RUNNING' THEN $4 ELSE error END,
                total_eligible = $5, processed = $6, sent = $7, failed = $8, skipped = $9, in_flight = 0,
                finished_at = now(), heartbeat_at = now()
          WHERE id = $1 AND lease_token = $2 AND finished_at IS NULL`,
        [id, leaseToken, status, error ?? null, counts.totalEligible, counts.processed, counts.sent, counts.failed, counts.skipped],
      ),
    );
  }

  /** Runs of a job that ended without collecting the Batch API batches in their params (`batch_ids`). */
  async findUncollectedBatches(jobName: string): Promise<{ id: string; params: Record<string, unknown> }[]> {
    return this.runs.query(
      `SELECT id, params FROM job_runs
        WHERE job_name = $1 AND status IN ('FAILED', 'INTERRUPTED', 'CANCELLED', 'PAUSED') AND params ? 'batch_ids'
          AND NOT params ? 'collected'
        ORDER BY started_at`,
      [jobName],
    );
  }

  /** Adds to a run's params whatever its status (a batch it submitted is paid for, even once the run is cancelled). */
  async keepParams(id: string, params: Record<string, unknown>): Promise<void> {
    await this.runs.query(`UPDATE job_runs SET params = params || $2::jsonb WHERE id = $1`, [id, JSON.stringify(params)]);
  }

  /** A run whose batches were collected since (or are past use): not collected again. */
  async markBatchesCollected(id: string): Promise<void> {
    await this.runs.query(`UPDATE job_runs SET params = params || '{"collected": true}'::jsonb WHERE id = $1`, [id]);
  }

  findById(id: string): Promise<JobRunEntity | null> {
    return this.runs.findOneBy({ id });
  }

  /**
   * Run control: moves the row from one of `from` to `to` with `reason`; with `leaseToken`, only the row under
   * that lease (the auto-pause). The row as it is afterwards, or null when it was in no state of `from`.
   */
  async transition(
    id: string,
    from: JobRunStatus[],
    to: JobRunStatus.Paused | JobRunStatus.Cancelled,
    reason: string,
    leaseToken?: string | null,
  ): Promise<JobRunEntity | null> {
    const where = { id, status: In(from), ...(leaseToken !== undefined ? { leaseToken: leaseToken ?? IsNull() } : {}) };
    const { affected } = await this.runs.update(where, { status: to, error: reason });
    return affected ? this.findById(id) : null;
  }

  /**
   * A PAUSED or INTERRUPTED run with a resume state goes back to RUNNING under a new lease, its reason and end
   * cleared. Null when the row is in another state (cancelled, or resumed by someone else meanwhile).
   */
  async resume(id: string, lease: { holder: string; token: string } | null): Promise<JobRunEntity | null> {
    const { affected } = await this.runs.update(
      { id, status: In([JobRunStatus.Paused, JobRunStatus.Interrupted]), resumeState: Not(IsNull()) },
      {
        status: JobRunStatus.Running,
        error: null,
        finishedAt: null,
        heartbeatAt: new Date(),
        holder: lease?.holder ?? null,
        leaseToken: lease?.token ?? null,
      },
    );
    return affected ? this.findById(id) : null;
  }

  /** Non-dry RUNNING rows of a job; each is live only while its lease is. */
  findRunning(jobName: string): Promise<JobRunEntity[]> {
    return this.runs.find({ where: { jobName, status: JobRunStatus.Running, dryRun: false }, order: { startedAt: 'DESC' } });
  }

  /**
   * Closes the given RUNNING rows as FAILED: their process stopped without recording an end, last seen at its
   * heartbeat (so the row ends when readers were already told it did, see job-run.mapper.ts).
   */
  async settleAbandoned(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.runs.update(
      { id: In(ids), status: JobRunStatus.Running },
      { status: JobRunStatus.Failed, error: ABANDONED_RUN_ERROR, finishedAt: () => 'heartbeat_at' },
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

function producerParams({ id, leaseToken, counts, inFlight, resumeState }: ProducerWrite): unknown[] {
  const { totalEligible, processed, sent, failed, skipped } = counts;
  return [id, leaseToken, totalEligible, processed, sent, failed, skipped, inFlight, JSON.stringify(resumeState)];
}
