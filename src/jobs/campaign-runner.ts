import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { finishWithin } from '../common/finish-within';
import { RequestContext } from '../common/request-context';
import { DeliveryFanOut, FanOutItem, FanOutResult } from '../messaging/delivery-fan-out';
import { SkipReason } from '../messaging/reminder-delivery';
import { CustomerProfile } from '../segmentation/customer-profile';
import { SegmentCriteria, SegmentCursor, SegmentRepository } from '../segmentation/segment.repository';
import { ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { CampaignPlan, CampaignReport, CustomerResult, RESULT_LIMIT } from './campaign.types';
import { JobRunStatus } from './job-run.entity';
import { JobRunRepository, RunCounts } from './job-run.repository';
import { ShutdownError } from './shutdown.service';
import { isWithinHours, localDay } from '../common/local-time';

const DAY_MS = 86_400_000;
const PROGRESS_LOG_INTERVAL_MS = 5_000;

/**
 * One campaign run, already holding the campaign lock: page through the eligible customers by key and
 * hand each page to the DeliveryFanOut, `concurrency` at a time. A customer's failure is counted, never fatal.
 * When `stop` aborts (shutdown, or the lock was lost) no further customer starts, those in flight get
 * SHUTDOWN_GRACE_SECONDS to finish, and the run is recorded with the counts so far.
 */
@Injectable()
export class CampaignRunner {
  private readonly logger = new Logger(CampaignRunner.name);

  constructor(
    private readonly segments: SegmentRepository,
    private readonly services: ServiceRepository,
    private readonly fanOut: DeliveryFanOut,
    private readonly jobRuns: JobRunRepository,
    private readonly config: AppConfig,
  ) {}

  /** Every line logged during the run, deliveries included, carries its job_runs id as `runId`. */
  run(plan: CampaignPlan, jobRunId: string, correlationId: string, stop: AbortSignal): Promise<CampaignReport> {
    return RequestContext.with({ runId: jobRunId }, () => this.runInContext(plan, jobRunId, correlationId, stop));
  }

  private async runInContext(
    plan: CampaignPlan,
    jobRunId: string,
    correlationId: string,
    stop: AbortSignal,
  ): Promise<CampaignReport> {
    const startedAt = new Date();
    const counts: RunCounts = { totalEligible: 0, processed: 0, sent: 0, failed: 0, skipped: 0 };
    const results: CustomerResult[] = [];
    let recorded = false;
    // A dry run counts customers as processed without an outcome. Once the row is written, stragglers
    // past the grace no longer change the counts it reports.
    const record = (result: CustomerResult, outcome: 'sent' | 'failed' | 'skipped' | null) => {
      if (recorded) return;
      counts.processed++;
      if (outcome) counts[outcome]++;
      if (results.length < RESULT_LIMIT) results.push(result);
    };
    const report = (status: CampaignReport['status'], error?: string): CampaignReport => ({
      jobRunId,
      correlationId,
      status,
      plan,
      startedAt,
      finishedAt: new Date(),
      counts,
      results,
      resultsTruncated: counts.processed > results.length,
      error,
    });

    try {
      const criteria = this.criteria(plan, startedAt);
      counts.totalEligible = await this.segments.countEligible(criteria);
      this.logger.log({
        msg: `Campaign started: ${counts.totalEligible} eligible customers (${plan.preset})`,
        eligible: counts.totalEligible,
        preset: plan.preset,
        dryRun: plan.dryRun,
      });
      await this.jobRuns.progress(jobRunId, counts);

      const campaign = { day: localDay(startedAt, this.config.campaign.timeZone), jobRunId };
      const { pageSize, concurrency } = this.fanOut.campaignPace(plan.batchSize);
      let lastLog = Date.now();
      const serviceCache = new Map<string, ServiceInfo>();
      let cursor: SegmentCursor | null = null;
      do {
        // The window is checked before every page, not only at the start: a long run stops when it closes
        // (a later run the same day resumes where this one stopped).
        if (!plan.dryRun && !isWithinHours(new Date(), this.config.campaign.timeZone, plan.sendWindow)) {
          const stopped = `stopped: the send window closed after ${counts.processed} customers`;
          this.logger.warn({ msg: `Campaign ${stopped}`, ...counts });
          recorded = true;
          await this.jobRuns.finish(jobRunId, JobRunStatus.Done, counts, stopped);
          return report('DONE', stopped);
        }
        const { customers: page, next } = await this.segments.page(criteria, cursor, pageSize);
        cursor = next;

        if (plan.dryRun) {
          page.forEach((customer) => record({ customerId: customer.id, success: false, reason: 'dry_run' }, null));
        } else {
          const services = await this.servicesFor(page, serviceCache);
          const items = page.map((customer) => this.item(customer, services, plan, correlationId, campaign));
          const deliveries = this.fanOut.deliverAll(items, {
            concurrency,
            signal: stop,
            onResult: (result) => record(...toCustomerResult(result)),
          });
          if (!(await finishWithin(deliveries, stop, this.config.shutdownGraceMs))) {
            this.logger.warn(`Campaign ${jobRunId}: messages still in flight after the grace are not counted`);
          }
        }
        await this.jobRuns.progress(jobRunId, counts);
        if (Date.now() - lastLog >= PROGRESS_LOG_INTERVAL_MS) {
          lastLog = Date.now();
          this.logProgress(counts, startedAt);
        }
      } while (cursor && !stop.aborted);
      recorded = true;
      if (stop.aborted) return report(...(await this.recordStop(jobRunId, stop.reason, counts)));
      await this.jobRuns.finish(jobRunId, JobRunStatus.Done, counts);
      this.logProgress(counts, startedAt);
      return report('DONE');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error({ msg: `Campaign failed: ${message}`, err: error });
      recorded = true;
      await this.jobRuns.finish(jobRunId, JobRunStatus.Failed, counts, message).catch((writeError: unknown) =>
        this.logger.error({ msg: 'Campaign: could not record the failure (status settles it later)', err: writeError }),
      );
      return report('FAILED', message);
    }
  }

  /** Records a run that was told to stop: INTERRUPTED on shutdown, FAILED when the campaign lock was lost. */
  private async recordStop(
    jobRunId: string,
    reason: unknown,
    counts: RunCounts,
  ): Promise<[JobRunStatus.Interrupted | JobRunStatus.Failed, string]> {
    const status = reason instanceof ShutdownError ? JobRunStatus.Interrupted : JobRunStatus.Failed;
    const why = reason instanceof Error ? reason.message : String(reason);
    const verb = status === JobRunStatus.Interrupted ? 'interrupted' : 'failed';
    const error = `${verb}: ${why}, after ${counts.processed} customers`;
    this.logger.warn(`Campaign ${jobRunId} ${error} (${counts.sent} sent, ${counts.failed} failed, ${counts.skipped} skipped)`);
    await this.jobRuns.finish(jobRunId, status, counts, error);
    return [status, error];
  }

  private criteria(plan: CampaignPlan, now: Date): SegmentCriteria {
    const { maxMessages, windowDays } = this.config.frequencyCap;
    return {
      channel: plan.channel,
      bookedBefore: new Date(now.getTime() - plan.bookingCadenceDays * DAY_MS),
      // With a cap of one message per window, "messaged within the window" is exactly "capped";
      // with a larger cap the claim alone decides.
      messagedBefore: maxMessages === 1 ? new Date(now.getTime() - windowDays * DAY_MS) : null,
      now,
    };
  }

  private item(
    customer: CustomerProfile,
    services: Map<string, ServiceInfo>,
    plan: CampaignPlan,
    correlationId: string,
    campaign: { day: string; jobRunId: string },
  ): FanOutItem {
    const service = customer.lastBookingServiceId ? services.get(customer.lastBookingServiceId) : undefined;
    if (!service) return { customerId: customer.id, skip: SkipReason.NoBookingHistory };
    return {
      customerId: customer.id,
      request: {
        customer,
        service,
        offer: plan.offer,
        messageType: plan.messageType,
        channel: plan.channel,
        ttlHours: this.config.links.defaultTtlHours,
        bypassFrequencyCap: false,
        correlationId,
        campaign,
      },
    };
  }

  private async servicesFor(page: CustomerProfile[], cache: Map<string, ServiceInfo>): Promise<Map<string, ServiceInfo>> {
    const missing = [
      ...new Set(page.map((c) => c.lastBookingServiceId).filter((id): id is string => !!id && !cache.has(id))),
    ];
    for (const [id, service] of await this.services.findByIds(missing)) cache.set(id, service);
    return cache;
  }

  private logProgress(counts: RunCounts, startedAt: Date): void {
    const seconds = (Date.now() - startedAt.getTime()) / 1000;
    const rate = seconds > 0 ? Math.round(counts.processed / seconds) : counts.processed;
    this.logger.log({
      msg:
        `Campaign progress: ${counts.processed}/${counts.totalEligible} processed (${counts.sent} sent, ` +
        `${counts.failed} failed, ${counts.skipped} skipped), ${rate}/s`,
      ...counts,
      perSecond: rate,
    });
  }
}

function toCustomerResult({ customerId, outcome }: FanOutResult): [CustomerResult, 'sent' | 'failed' | 'skipped'] {
  switch (outcome.status) {
    case 'sent':
      return [{ customerId, success: true, messageId: outcome.messageId }, 'sent'];
    case 'failed':
      return [{ customerId, success: false, messageId: outcome.messageId, reason: outcome.reason }, 'failed'];
    case 'skipped':
      return [{ customerId, success: false, reason: outcome.reason }, 'skipped'];
    case 'error':
      return [{ customerId, success: false, reason: 'internal_error' }, 'failed'];
  }
}
