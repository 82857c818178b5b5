import { Injectable, Logger } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { AppException, ErrorCode } from '../common/app.exception';
import { RequestContext } from '../common/request-context';
import { LockId } from '../database/lock-ids';
import { LockHolder } from '../database/lock-lease.repository';
import { Lease, LockService, TryLockResult } from '../database/lock.service';
import { MessageType } from '../messaging/message.types';
import { Metric } from '../metrics/metric-names';
import { OfferService } from '../smartengage/offer.service';
import { ExperimentsService } from '../experiments/experiments.service';
import { CAMPAIGN_PRESETS, CampaignPreset } from './campaign-presets';
import { CampaignRunner, RunAttempt } from './campaign-runner';
import {
  CAMPAIGN_JOB_NAME,
  CAMPAIGN_JOB_TYPE,
  CampaignOutcome,
  CampaignPlan,
  CampaignReport,
  CampaignRequest,
  CampaignResume,
  CampaignStart,
  LiveRun,
} from './campaign.types';
import { JobRunEntity, JobTrigger } from './job-run.entity';
import { JobRunRepository, NewRun, RunCounts } from './job-run.repository';
import { RunStateChangedError } from './run-errors';
import { ShutdownService } from './shutdown.service';
import { isWithinHours, localHour } from '../common/local-time';

/**
 * Starts campaign runs: resolves the plan, checks the send window, takes the campaign lock (one run at a
 * time across replicas), records every trigger in job_runs, and retries failed scheduled runs. A run row
 * is RUNNING only while the lease it runs under is live; rows left by a dead process are settled as FAILED (by
 * the next run, under the lock, or by AbandonedRunSweeper).
 */
/** Why CAMPAIGN_EXPERIMENT may not apply to a scheduled run: gone, stopped, or no longer valid (channel, offer). */
const SCHEDULED_EXPERIMENT_REFUSALS = new Set<ErrorCode>([ErrorCode.ExperimentNotFound, ErrorCode.ExperimentStopped, ErrorCode.ValidationFailed]);

@Injectable()
export class CampaignService {
  private readonly logger = new Logger(CampaignService.name);

  constructor(
    private readonly runner: CampaignRunner,
    private readonly locks: LockService,
    private readonly jobRuns: JobRunRepository,
    private readonly offers: OfferService,
    private readonly shutdown: ShutdownService,
    private readonly experiments: ExperimentsService,
    private readonly config: AppConfig,
    @InjectMetric(Metric.CampaignRuns) private readonly runsTotal: Counter<string>,
  ) {}

  async plan(request: CampaignRequest): Promise<CampaignPlan> {
    const preset = request.preset ?? CampaignPreset.Default;
    const settings = CAMPAIGN_PRESETS[preset];
    const promoCode = request.promoCode === undefined ? settings.promoCode : request.promoCode;
    const offer = await this.offers.resolve(promoCode);
    const sendWindow = {
      startHour: request.sendWindowStart ?? this.config.campaign.sendWindow.startHour,
      endHour: request.sendWindowEnd ?? this.config.campaign.sendWindow.endHour,
    };
    if (sendWindow.startHour >= sendWindow.endHour) {
      throw new AppException(ErrorCode.ValidationFailed, 'send_window_start must be before send_window_end', [
        { field: 'send_window_start', message: 'send_window_start must be before send_window_end' },
      ]);
    }
    const channel = request.channel ?? settings.channel;
    // Checked now, so an unknown or stopped experiment refuses the run before anyone is messaged.
    if (request.experiment) await this.experiments.split(request.experiment, channel);
    return {
      preset,
      bookingCadenceDays: request.bookingCadenceDays ?? settings.bookingCadenceDays,
      offer,
      sendWindow,
      batchSize: request.batchSize ?? settings.batchSize,
      dryRun: request.dryRun ?? false,
      messageType: MessageType.Reminder,
      channel,
      experiment: request.experiment ?? null,
    };
  }

  /** One attempt, to its end. */
  async run(plan: CampaignPlan, trigger: JobTrigger, attempt = 1): Promise<CampaignOutcome> {
    const started = await this.start(plan, trigger, attempt);
    return started.kind === 'started' ? { kind: 'ran', report: await started.report } : started;
  }

  /**
   * One attempt, answered once its row is written; the run goes on in the background (tracked, so a shutdown
   * interrupts it cleanly) and `report` settles when it ends. A dry run sends nothing, so it needs neither the
   * lock nor an open window.
   */
  async start(plan: CampaignPlan, trigger: JobTrigger, attempt = 1): Promise<CampaignStart> {
    if (this.shutdown.signal.aborted) return { kind: 'shutting_down' };
    const correlationId = RequestContext.ensureCorrelationId();
    const newRun: NewRun = {
      jobType: CAMPAIGN_JOB_TYPE,
      jobName: CAMPAIGN_JOB_NAME,
      trigger,
      correlationId,
      attempt,
      params: { ...plan, offer: plan.offer?.promoCode ?? null },
      dryRun: plan.dryRun,
    };
    const now = new Date();
    if (!plan.dryRun && !isWithinHours(now, this.config.campaign.timeZone, plan.sendWindow)) {
      const hour = localHour(now, this.config.campaign.timeZone);
      await this.jobRuns.skipped(newRun, `send window ${plan.sendWindow.startHour}-${plan.sendWindow.endHour} is closed (${hour}:00 local)`);
      this.runsTotal.inc({ status: 'SKIPPED', trigger });
      return { kind: 'window_closed', localHour: hour };
    }
    const launched = await this.launch(
      plan.dryRun,
      (lease) => this.jobRuns.start(newRun, lease ?? undefined),
      (row, leaseToken, stop) => ({ plan, jobRunId: row.id, correlationId, leaseToken, stop }),
    );
    if (!launched.acquired) {
      await this.jobRuns.skipped(newRun, 'another run holds the campaign lock');
      this.runsTotal.inc({ status: 'SKIPPED', trigger });
      return { kind: 'locked', holder: launched.holder };
    }
    return { kind: 'started', row: launched.row, report: this.counted(launched.report, trigger) };
  }

  /**
   * Resumes a PAUSED or INTERRUPTED run from its resume state, under the campaign lock like any run, with its
   * own id, plan and campaign day. Answered once the row is RUNNING again; the run goes on in the background.
   */
  async resume(row: JobRunEntity): Promise<CampaignResume> {
    if (this.shutdown.signal.aborted) return { kind: 'shutting_down' };
    const plan = await this.storedPlan(row);
    const launched = await this.launch(
      row.dryRun,
      async (lease) => {
        const resumed = await this.jobRuns.resume(row.id, lease);
        if (!resumed?.resumeState) throw new RunStateChangedError();
        return resumed;
      },
      (resumed, leaseToken, stop) => ({
        plan,
        jobRunId: resumed.id,
        correlationId: resumed.correlationId,
        leaseToken,
        stop,
        resume: { startedAt: resumed.startedAt, counts: countsOf(resumed), state: resumed.resumeState! },
      }),
    ).catch((error: unknown) => {
      if (error instanceof RunStateChangedError) return { acquired: false as const, changed: true as const };
      throw error;
    });
    if (!launched.acquired) return 'changed' in launched ? { kind: 'changed' } : { kind: 'locked', holder: launched.holder };
    const report = this.counted(launched.report, row.trigger);
    void report.catch((error: unknown) => this.logger.error({ msg: `Campaign run ${row.id} failed after resuming`, err: error }));
    return { kind: 'started', row: launched.row };
  }

  /**
   * Takes the campaign lock (not for a dry run), writes the row with `open` and runs the attempt in the
   * background, tracked from before its row is written so a shutdown in between waits for it. Answers once
   * the row is written, or at once when the lock is held.
   */
  private async launch(
    dryRun: boolean,
    open: (lease: Lease | null) => Promise<JobRunEntity>,
    attempt: (row: JobRunEntity, leaseToken: string | null, stop: AbortSignal) => RunAttempt,
  ): Promise<{ acquired: true; row: JobRunEntity; report: Promise<CampaignReport> } | { acquired: false; holder: LockHolder | null }> {
    let opened: (row: JobRunEntity) => void = () => undefined;
    const written = new Promise<JobRunEntity>((resolve) => (opened = resolve));
    const runUnder = async (lease: Lease | null) => {
      const row = await open(lease);
      opened(row);
      const stop = lease ? AbortSignal.any([this.shutdown.signal, lease.signal]) : this.shutdown.signal;
      return this.runner.run(attempt(row, lease?.token ?? null, stop));
    };
    const work: Promise<TryLockResult<CampaignReport>> = this.shutdown.track(() =>
      dryRun
        ? runUnder(null).then((result) => ({ acquired: true as const, result }))
        : this.locks.tryLock(LockId.DailyCampaign, async (lease) => {
            await this.settleAbandoned(lease.token);
            return runUnder(lease);
          }),
    );
    const first = await Promise.race([written.then((row) => ({ row })), work.then((result) => ({ result }))]);
    if ('result' in first && !first.result.acquired) return first.result;
    const report = work.then((result) => {
      if (!result.acquired) throw new Error('the campaign lock was not taken'); // never: the row was written under it
      return result.result;
    });
    return { acquired: true, row: await written, report };
  }

  /** The run's report, counted in ai_campaign_runs_total when it ends. */
  private counted(report: Promise<CampaignReport>, trigger: JobTrigger): Promise<CampaignReport> {
    return report.then((result) => {
      this.runsTotal.inc({ status: result.status, trigger });
      return result;
    });
  }

  /** The plan a run was started with, from its params; its promo code must still be active. */
  private async storedPlan(row: JobRunEntity): Promise<CampaignPlan> {
    const { offer: promoCode, ...stored } = row.params as unknown as Omit<CampaignPlan, 'offer'> & { offer: string | null };
    const offer = promoCode ? await this.offers.findActive(promoCode) : null;
    if (promoCode && !offer) {
      throw new AppException(ErrorCode.RunStateConflict, `run ${row.id} cannot resume: its promo code ${promoCode} is no longer active`);
    }
    return { ...stored, experiment: stored.experiment ?? null, offer };
  }

  /** Under the lock: every other RUNNING row was left by a process that died. */
  private async settleAbandoned(liveToken: string): Promise<void> {
    const rows = await this.jobRuns.findRunning(CAMPAIGN_JOB_NAME);
    await this.settle(rows.filter((row) => row.leaseToken !== liveToken));
  }

  private async settle(abandoned: JobRunEntity[]): Promise<void> {
    const settled = await this.jobRuns.settleAbandoned(abandoned.map((row) => row.id));
    if (settled > 0) {
      const runs = abandoned.map((row) => `${row.id} (${row.holder ?? 'unknown holder'})`).join(', ');
      this.logger.warn(`Closed ${settled} campaign run(s) as FAILED, their lease expired: ${runs}`);
    }
  }

  /**
   * The scheduled run: failed attempts are retried with doubling backoff, up to CAMPAIGN_MAX_ATTEMPTS.
   * A shutdown ends the retries.
   */
  async runScheduled(request: CampaignRequest = {}): Promise<CampaignOutcome | null> {
    const { maxAttempts, retryBackoffMs } = this.config.campaign;
    const plan = await this.scheduledPlan(request);
    let last: CampaignOutcome | null = null;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) {
        const delay = retryBackoffMs * 2 ** (attempt - 2);
        this.logger.warn({
          msg: `Campaign attempt ${attempt - 1} failed; attempt ${attempt} in ${delay} ms`,
          attempt,
          delayMs: delay,
        });
        const waited = await sleep(delay, true, { signal: this.shutdown.signal }).catch(() => false);
        if (!waited) return last;
      }
      try {
        last = await this.run(plan, JobTrigger.Cron, attempt);
        if (last.kind !== 'ran' || last.report.status !== 'FAILED') return last;
      } catch (error) {
        // The run could not even start (database unreachable): a failed attempt like any other.
        this.logger.error({ msg: `Campaign attempt ${attempt} could not start`, attempt, err: error });
      }
    }
    this.logger.error(`Campaign failed after ${maxAttempts} attempts`);
    return last;
  }

  /**
   * The scheduled run's plan, split by CAMPAIGN_EXPERIMENT while that experiment can take customers. One that was
   * stopped, deleted or never created does not stop the daily campaign: it runs without the split, and says so.
   */
  private async scheduledPlan(request: CampaignRequest): Promise<CampaignPlan> {
    const experiment = this.config.campaign.experiment;
    if (!experiment || request.experiment !== undefined) return this.plan(request);
    try {
      return await this.plan({ ...request, experiment });
    } catch (error) {
      if (!(error instanceof AppException) || !SCHEDULED_EXPERIMENT_REFUSALS.has(error.code)) throw error;
      this.logger.warn({ msg: `CAMPAIGN_EXPERIMENT ${experiment} does not apply (${error.message}); the campaign runs without it`, experiment });
      return this.plan(request);
    }
  }
}

function countsOf(row: JobRunEntity): RunCounts {
  return { totalEligible: row.totalEligible, processed: row.processed, sent: row.sent, failed: row.failed, skipped: row.skipped, unknown: row.unknown };
}
