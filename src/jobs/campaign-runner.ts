import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DeliveryFanOut, FanOutItem, FanOutResult } from '../messaging/delivery-fan-out';
import { SkipReason } from '../messaging/reminder-delivery';
import { CustomerProfile } from '../segmentation/customer-profile';
import { SegmentCriteria, SegmentCursor, SegmentRepository } from '../segmentation/segment.repository';
import { ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { CampaignPlan, CampaignReport, CustomerResult, RESULT_LIMIT } from './campaign.types';
import { JobRunStatus } from './job-run.entity';
import { JobRunRepository, RunCounts } from './job-run.repository';
import { isWithinHours, localDay } from '../common/local-time';

const DAY_MS = 86_400_000;
const PROGRESS_LOG_INTERVAL_MS = 5_000;

/**
 * One campaign run, already holding the campaign lock: page through the eligible customers by key and
 * hand each page to the DeliveryFanOut, `concurrency` at a time. A customer's failure is counted, never fatal.
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

  async run(plan: CampaignPlan, jobRunId: string, correlationId: string): Promise<CampaignReport> {
    const startedAt = new Date();
    const counts: RunCounts = { totalEligible: 0, processed: 0, sent: 0, failed: 0, skipped: 0 };
    const results: CustomerResult[] = [];
    // A dry run counts customers as processed without an outcome.
    const record = (result: CustomerResult, outcome: 'sent' | 'failed' | 'skipped' | null) => {
      counts.processed++;
      if (outcome) counts[outcome]++;
      if (results.length < RESULT_LIMIT) results.push(result);
    };
    const report = (status: 'DONE' | 'FAILED', error?: string): CampaignReport => ({
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
      this.logger.log(`Campaign ${jobRunId}: ${counts.totalEligible} eligible customers (${plan.preset})`);
      await this.jobRuns.progress(jobRunId, counts);

      const campaign = { day: localDay(startedAt, this.config.campaign.timeZone), jobRunId };
      const concurrency = Math.min(plan.batchSize, this.config.campaign.concurrency);
      let lastLog = Date.now();
      const serviceCache = new Map<string, ServiceInfo>();
      let cursor: SegmentCursor | null = null;
      do {
        // The window is checked before every page, not only at the start: a long run stops when it closes
        // (a later run the same day resumes where this one stopped).
        if (!plan.dryRun && !isWithinHours(new Date(), this.config.campaign.timeZone, plan.sendWindow)) {
          const stopped = `stopped: the send window closed after ${counts.processed} customers`;
          this.logger.warn(`Campaign ${jobRunId} ${stopped}`);
          await this.jobRuns.finish(jobRunId, JobRunStatus.Done, counts, stopped);
          return report('DONE', stopped);
        }
        const { customers: page, next } = await this.segments.page(criteria, cursor, plan.batchSize);
        cursor = next;

        if (plan.dryRun) {
          page.forEach((customer) => record({ customerId: customer.id, success: false, reason: 'dry_run' }, null));
        } else {
          const services = await this.servicesFor(page, serviceCache);
          const items = page.map((customer) => this.item(customer, services, plan, correlationId, campaign));
          await this.fanOut.deliverAll(items, { concurrency, onResult: (result) => record(...toCustomerResult(result)) });
        }
        await this.jobRuns.progress(jobRunId, counts);
        if (Date.now() - lastLog >= PROGRESS_LOG_INTERVAL_MS) {
          lastLog = Date.now();
          this.logProgress(counts, startedAt);
        }
      } while (cursor && !this.fanOut.stopping);
      if (this.fanOut.stopping) throw new Error(`interrupted: the service shut down after ${counts.processed} customers`);
      await this.jobRuns.finish(jobRunId, JobRunStatus.Done, counts);
      this.logProgress(counts, startedAt);
      return report('DONE');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`Campaign ${jobRunId} failed: ${message}`, error instanceof Error ? error.stack : undefined);
      await this.jobRuns.finish(jobRunId, JobRunStatus.Failed, counts, message).catch(() => undefined);
      return report('FAILED', message);
    }
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
    this.logger.log(
      `Campaign progress: ${counts.processed}/${counts.totalEligible} processed (${counts.sent} sent, ` +
        `${counts.failed} failed, ${counts.skipped} skipped), ${rate}/s`,
    );
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
