import { Injectable, Logger } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { AppException, ErrorCode } from '../common/app.exception';
import { RequestContext } from '../common/request-context';
import { LockId } from '../database/lock-ids';
import { LockHolder } from '../database/lock-lease.repository';
import { LockService } from '../database/lock.service';
import { MessageType } from '../messaging/message.types';
import { Metric } from '../metrics/metric-names';
import { PromoCodeRepository } from '../smartengage/promo-code.repository';
import { CAMPAIGN_PRESETS, CampaignPreset } from './campaign-presets';
import { CampaignRunner } from './campaign-runner';
import { CAMPAIGN_JOB_NAME, CAMPAIGN_JOB_TYPE, CampaignOutcome, CampaignPlan, CampaignRequest } from './campaign.types';
import { JobRunEntity, JobTrigger } from './job-run.entity';
import { JobRunRepository, NewRun } from './job-run.repository';
import { ShutdownService } from './shutdown.service';
import { isWithinHours, localHour } from '../common/local-time';

/**
 * Starts campaign runs: resolves the plan, checks the send window, takes the campaign lock (one run at a
 * time across replicas), records every trigger in job_runs, and retries failed scheduled runs. A run row
 * is RUNNING only while the lease it runs under is live; rows left by a dead process are settled as FAILED.
 */
@Injectable()
export class CampaignService {
  private readonly logger = new Logger(CampaignService.name);

  constructor(
    private readonly runner: CampaignRunner,
    private readonly locks: LockService,
    private readonly jobRuns: JobRunRepository,
    private readonly promos: PromoCodeRepository,
    private readonly shutdown: ShutdownService,
    private readonly config: AppConfig,
    @InjectMetric(Metric.CampaignRuns) private readonly runsTotal: Counter<string>,
  ) {}

  async plan(request: CampaignRequest): Promise<CampaignPlan> {
    const preset = request.preset ?? CampaignPreset.Default;
    const settings = CAMPAIGN_PRESETS[preset];
    const promoCode = request.promoCode === undefined ? settings.promoCode : request.promoCode;
    const offer = promoCode ? await this.promos.findActiveOffer(promoCode) : null;
    if (promoCode && !offer) {
      throw AppException.badRequest(ErrorCode.UnknownPromoCode, `promo_code ${promoCode} is not an active promo code`, [
        { field: 'promo_code', message: `${promoCode} is not an active promo code` },
      ]);
    }
    const sendWindow = {
      startHour: request.sendWindowStart ?? this.config.campaign.sendWindow.startHour,
      endHour: request.sendWindowEnd ?? this.config.campaign.sendWindow.endHour,
    };
    if (sendWindow.startHour >= sendWindow.endHour) {
      throw AppException.badRequest(ErrorCode.ValidationFailed, 'send_window_start must be before send_window_end', [
        { field: 'send_window_start', message: 'send_window_start must be before send_window_end' },
      ]);
    }
    return {
      preset,
      bookingCadenceDays: request.bookingCadenceDays ?? settings.bookingCadenceDays,
      offer,
      sendWindow,
      batchSize: request.batchSize ?? settings.batchSize,
      dryRun: request.dryRun ?? false,
      messageType: MessageType.Reminder,
      channel: request.channel ?? settings.channel,
    };
  }

  /**
   * One attempt. A dry run sends nothing, so it needs neither the lock nor an open window.
   */
  async run(plan: CampaignPlan, trigger: JobTrigger, attempt = 1): Promise<CampaignOutcome> {
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
    if (plan.dryRun) {
      // Tracked from before its row is written, so a shutdown in between waits for it.
      const report = await this.shutdown.track(async () => {
        const run = await this.jobRuns.start(newRun);
        return this.runner.run(plan, run.id, correlationId, this.shutdown.signal);
      });
      this.runsTotal.inc({ status: report.status, trigger });
      return { kind: 'ran', report };
    }

    const locked = await this.shutdown.track(() =>
      this.locks.tryLock(LockId.DailyCampaign, async (lease) => {
        await this.settleAbandoned(lease.token);
        const run = await this.jobRuns.start(newRun, lease);
        const stop = AbortSignal.any([this.shutdown.signal, lease.signal]);
        return this.runner.run(plan, run.id, correlationId, stop);
      }),
    );
    if (!locked.acquired) {
      await this.jobRuns.skipped(newRun, 'another run holds the campaign lock');
      this.runsTotal.inc({ status: 'SKIPPED', trigger });
      return { kind: 'locked', holder: locked.holder };
    }
    this.runsTotal.inc({ status: locked.result.status, trigger });
    return { kind: 'ran', report: locked.result };
  }

  /** Who holds the campaign lock and the run under it; settles RUNNING rows whose lease is gone. */
  async liveRun(): Promise<{ lock: LockHolder | null; run: JobRunEntity | null }> {
    // Rows before the lease: a run takes its lease before writing its row, so a row read here whose lease
    // is missing below is dead, never one that is only starting.
    const rows = await this.jobRuns.findRunning(CAMPAIGN_JOB_NAME);
    const lock = await this.locks.holderOf(LockId.DailyCampaign);
    const run = rows.find((row) => lock !== null && row.leaseToken === lock.token) ?? null;
    await this.settle(rows.filter((row) => row !== run));
    return { lock, run };
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
    const plan = await this.plan(request);
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
}
