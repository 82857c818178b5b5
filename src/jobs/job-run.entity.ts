import { Column, Entity, PrimaryColumn } from 'typeorm';
import { EligibilityCursor } from '../segmentation/eligible-customer.repository';

export enum JobRunStatus {
  /** Only while the lease it runs under is live; a RUNNING row with a dead lease is settled as FAILED. */
  Running = 'RUNNING',
  Done = 'DONE',
  /** Broke off: an error, a lost lock, or a process that died mid-run. */
  Failed = 'FAILED',
  /** Stopped because its process was shutting down; the counts say how far it got. */
  Interrupted = 'INTERRUPTED',
  /** Did not run: another replica held the lock, or the send window was closed. */
  Skipped = 'SKIPPED',
  /**
   * Stopped by an operator or by the auto-pause; `error` says which. Resumable. finished_at is null while its
   * producer is still stopping (deliveries in flight finishing), and set once it stopped.
   */
  Paused = 'PAUSED',
  /** Stopped for good by an operator. */
  Cancelled = 'CANCELLED',
}

/**
 * Where a stopped run picks up, written together with the counts: the campaign day its deliveries carry, the
 * cursor the page in progress was read from (null: the first page), and the customers of that page already
 * counted. A resume reads that page again and skips them, so nobody is counted twice or left out.
 */
export interface ResumeState {
  campaignDay: string;
  cursor: EligibilityCursor | null;
  counted: string[];
}

export enum JobTrigger {
  Cron = 'cron',
  Manual = 'manual',
}

/** One run (one attempt) of a scheduled job. */
@Entity({ name: 'job_runs' })
export class JobRunEntity {
  @PrimaryColumn('uuid')
  id: string;

  /** Family used by /internal/jobs/history?type=, e.g. `smartengage`. */
  @Column({ name: 'job_type', type: 'text' })
  jobType: string;

  @Column({ name: 'job_name', type: 'text' })
  jobName: string;

  @Column({ type: 'text' })
  trigger: JobTrigger;

  @Column({ type: 'text' })
  status: JobRunStatus;

  @Column({ name: 'correlation_id', type: 'text' })
  correlationId: string;

  /** 1 for the first try; retries after a failure count up. */
  @Column({ type: 'int', default: 1 })
  attempt: number;

  @Column({ type: 'jsonb', default: {} })
  params: Record<string, unknown>;

  @Column({ name: 'dry_run', type: 'boolean', default: false })
  dryRun: boolean;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  /** Refreshed with the counts while a run progresses. */
  @Column({ name: 'heartbeat_at', type: 'timestamptz' })
  heartbeatAt: Date;

  @Column({ name: 'total_eligible', type: 'int', default: 0 })
  totalEligible: number;

  @Column({ type: 'int', default: 0 })
  processed: number;

  @Column({ type: 'int', default: 0 })
  sent: number;

  @Column({ type: 'int', default: 0 })
  failed: number;

  @Column({ type: 'int', default: 0 })
  skipped: number;

  /** Customers whose message may or may not have gone out: its row is `unknown` (or was `sending` at the end). */
  @Column({ type: 'int', default: 0 })
  unknown: number;

  /** Why the run ended as it did, or was paused / cancelled; shown as `reason` by GET /internal/jobs/runs/{id}. */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'resume_state', type: 'jsonb', nullable: true })
  resumeState: ResumeState | null;

  /** Customers handed to the fan-out and not finished yet, as of the last heartbeat. */
  @Column({ name: 'in_flight', type: 'int', default: 0 })
  inFlight: number;

  /** The instance running it (host:pid), as in lock_leases. */
  @Column({ type: 'text', nullable: true })
  holder: string | null;

  /** The campaign-lock lease it runs under: the row is live only while that lease is. */
  @Column({ name: 'lease_token', type: 'uuid', nullable: true })
  leaseToken: string | null;
}
