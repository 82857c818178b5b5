import { CustomerResult } from '../delivery/delivery-fan-out';
import { Offer } from '../messaging/message-content';
import { Channel, MessageType } from '../messaging/message.types';
import { CampaignPreset } from './campaign-presets';
import { RunCounts } from './job-run.repository';
import { HourRange } from '../common/local-time';
import { LockHolder } from '../database/lock-lease.repository';
import { JobRunEntity } from './job-run.entity';

export const CAMPAIGN_JOB_NAME = 'smartengage_daily_campaign';
/** The job_runs name of a prepare (drafts written ahead of the campaign). */
export const PREPARE_JOB_NAME = 'smartengage_prepare';
export const CAMPAIGN_JOB_TYPE = 'smartengage';
/** At most this many per-customer results are returned; the counts always cover everyone. */
export const RESULT_LIMIT = 1000;

/** What an operator may set for one run; anything missing comes from the preset, then the config. */
export interface CampaignRequest {
  preset?: CampaignPreset;
  bookingCadenceDays?: number;
  promoCode?: string | null;
  sendWindowStart?: number;
  sendWindowEnd?: number;
  batchSize?: number;
  dryRun?: boolean;
  channel?: Channel;
  /** Key of a running experiment to split the run's customers by. */
  experiment?: string;
}

/** A run's settings, resolved and validated. */
export interface CampaignPlan {
  preset: CampaignPreset;
  bookingCadenceDays: number;
  offer: Offer | null;
  sendWindow: HourRange;
  batchSize: number;
  dryRun: boolean;
  messageType: MessageType;
  channel: Channel;
  /** The experiment the run splits its customers by; null for none. */
  experiment: string | null;
}

export interface CampaignReport {
  jobRunId: string;
  correlationId: string;
  /**
   * INTERRUPTED: the process was shutting down; FAILED also covers a lost campaign lock; PAUSED and CANCELLED:
   * run control stopped it (an operator, or the auto-pause).
   */
  status: 'DONE' | 'FAILED' | 'INTERRUPTED' | 'PAUSED' | 'CANCELLED';
  plan: CampaignPlan;
  startedAt: Date;
  finishedAt: Date;
  counts: RunCounts;
  results: CustomerResult[];
  resultsTruncated: boolean;
  error?: string;
}

export type CampaignOutcome =
  | { kind: 'ran'; report: CampaignReport }
  | { kind: 'locked'; holder: LockHolder | null }
  | { kind: 'window_closed'; localHour: number }
  | { kind: 'shutting_down' };

/** Refusals before a run starts, shared by a start and a resume. */
type NotStarted = { kind: 'locked'; holder: LockHolder | null } | { kind: 'shutting_down' };

/** A run whose row is written and that goes on in the background; `report` settles when it ends. */
export type CampaignStart =
  | { kind: 'started'; row: JobRunEntity; report: Promise<CampaignReport> }
  | NotStarted
  | { kind: 'window_closed'; localHour: number };

/** `changed`: the run left PAUSED/INTERRUPTED while the lock was being taken (cancelled, or resumed elsewhere). */
export type CampaignResume = { kind: 'started'; row: JobRunEntity } | NotStarted | { kind: 'changed' };

/**
 * The campaign lock's holder, the run under it, and RUNNING rows whose lease is gone: abandoned by a process that
 * died, shown as FAILED until the sweeper or the next run closes them.
 */
export interface LiveRun {
  lock: LockHolder | null;
  run: JobRunEntity | null;
  abandoned: JobRunEntity[];
}
