import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AppException, ErrorCode } from '../common/app.exception';
import { localDay, nextRangeStart, rangeEndsAt } from '../common/local-time';
import { RequestContext } from '../common/request-context';
import { LockId } from '../database/lock-ids';
import { LockHolder } from '../database/lock-lease.repository';
import { Lease, LockService, TryLockResult } from '../database/lock.service';
import { Channel } from '../messaging/message.types';
import { PreparedDrafts, PrepareOptions, PrepareTally, PrepareTarget } from '../messaging/prepared-drafts.service';
import { CustomerProfile } from '../segmentation/customer-profile';
import { CustomerRepository } from '../segmentation/customer.repository';
import { EligibleCustomerRepository } from '../segmentation/eligible-customer.repository';
import { lastBookedServices, ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { campaignCriteria } from './campaign-runner';
import { CampaignService } from './campaign.service';
import { CAMPAIGN_JOB_TYPE, CampaignPlan, CampaignRequest, PREPARE_JOB_NAME } from './campaign.types';
import { JobRunEntity, JobRunStatus, JobTrigger } from './job-run.entity';
import { JobRunRepository, RunCounts } from './job-run.repository';
import { ShutdownError, ShutdownService } from './shutdown.service';

export { PREPARE_JOB_NAME };

/** The send a prepare writes for: when it starts, its local day, and when its drafts expire (its window's end). */
interface SendDay {
  sendAt: Date;
  sendDay: string;
  expiresAt: Date;
}

/** A prepare that was asked for: started (its row written, `done` settles when it ends), or refused. */
export type PrepareStart =
  | { kind: 'started'; row: JobRunEntity; done: Promise<void> }
  | { kind: 'locked'; holder: LockHolder | null }
  | { kind: 'shutting_down' };

/**
 * Prepares the next campaign's email drafts ahead (PreparedDrafts): the customers the run will reach, by the
 * campaign's own eligibility and paging, with the facts as of the send day. One prepare at a time across
 * replicas (LockId.PrepareDrafts); each is a job_runs row (`smartengage_prepare`) whose `sent` counts drafts
 * written, `failed` customers left to be drafted at send time, `skipped` those with a fresh draft already.
 * With OPENAI_BATCH the drafts go through the Batch API, and the batch ids are kept in the row's params: a prepare
 * that stopped before collecting them has them collected by the next one.
 */
/** How often a prepare waiting for its batches beats, and looks whether run control stopped it. */
const HEARTBEAT_MS = 15_000;

@Injectable()
export class PrepareService {
  private readonly logger = new Logger(PrepareService.name);

  constructor(
    private readonly campaigns: CampaignService,
    private readonly prepared: PreparedDrafts,
    private readonly eligibleCustomers: EligibleCustomerRepository,
    private readonly services: ServiceRepository,
    private readonly customers: CustomerRepository,
    private readonly locks: LockService,
    private readonly jobRuns: JobRunRepository,
    private readonly shutdown: ShutdownService,
    private readonly config: AppConfig,
  ) {}

  /** The campaign's plan for the request; refused when no LLM is configured or the channel is not email. */
  async plan(request: CampaignRequest): Promise<CampaignPlan> {
    if (!this.prepared.enabled) {
      throw new AppException(ErrorCode.LlmNotConfigured, 'no LLM is configured (OPENAI_API_KEY): there are no drafts to prepare');
    }
    const plan = await this.campaigns.plan(request);
    if (plan.channel !== Channel.Email) {
      throw new AppException(ErrorCode.ValidationFailed, 'only email drafts are prepared ahead', [
        { field: 'channel', message: 'channel must be email: SMS are not drafted by the LLM' },
      ]);
    }
    return plan;
  }

  /** Takes the prepare lock and writes the row; the prepare goes on in the background. */
  async start(plan: CampaignPlan, trigger: JobTrigger): Promise<PrepareStart> {
    if (this.shutdown.signal.aborted) return { kind: 'shutting_down' };
    const correlationId = RequestContext.ensureCorrelationId();
    const timeZone = this.config.campaign.timeZone;
    // The next send: now when the window is open, else when it opens. Its day is the one days are counted to.
    const sendAt = nextRangeStart(new Date(), timeZone, plan.sendWindow);
    const send: SendDay = { sendAt, sendDay: localDay(sendAt, timeZone), expiresAt: rangeEndsAt(sendAt, timeZone, plan.sendWindow) };
    let opened: (row: JobRunEntity) => void = () => undefined;
    const written = new Promise<JobRunEntity>((resolve) => (opened = resolve));
    const work: Promise<TryLockResult<void>> = this.shutdown.track(() =>
      this.locks.tryLock(LockId.PrepareDrafts, async (lease) => {
        await this.settleAbandoned(lease.token);
        const row = await this.jobRuns.start(
          {
            jobType: CAMPAIGN_JOB_TYPE,
            jobName: PREPARE_JOB_NAME,
            trigger,
            correlationId,
            attempt: 1,
            params: {
              ...plan,
              offer: plan.offer?.promoCode ?? null,
              batch: this.prepared.batched,
              send_day: send.sendDay,
              send_at: send.sendAt.toISOString(),
              expires_at: send.expiresAt.toISOString(),
            },
            dryRun: false,
          },
          lease,
        );
        opened(row);
        await RequestContext.with({ runId: row.id }, () => this.run(row, plan, send, lease));
      }),
    );
    const first = await Promise.race([written.then((row) => ({ row })), work.then((result) => ({ result }))]);
    if ('result' in first && !first.result.acquired) return { kind: 'locked', holder: first.result.holder };
    const done = work.then(() => undefined);
    return { kind: 'started', row: await written, done };
  }

  private async run(row: JobRunEntity, plan: CampaignPlan, send: SendDay, lease: Lease): Promise<void> {
    const counts: RunCounts = { totalEligible: 0, processed: 0, sent: 0, failed: 0, skipped: 0, unknown: 0 };
    const signal = AbortSignal.any([this.shutdown.signal, lease.signal]);
    try {
      const removed = await this.prepared.deleteExpired();
      const options: PrepareOptions = { channel: plan.channel, messageType: plan.messageType, offer: plan.offer, ...send, signal };
      // Before this prepare's own: customers drafted from an earlier batch are then fresh, and not asked again.
      counts.sent += await this.collectEarlierBatches(options);
      const criteria = campaignCriteria(plan, send.sendAt, this.config.frequencyCap);
      counts.totalEligible = await this.eligibleCustomers.countEligible(criteria);
      this.logger.log({
        msg: `Prepare started: ${counts.totalEligible} customers for the send on ${options.sendDay}; ${removed} expired draft(s) deleted`,
        eligible: counts.totalEligible,
      });
      const pageSize = Math.max(plan.batchSize, this.config.openai.concurrency);
      const serviceCache = new Map<string, ServiceInfo>();
      // Batch lines go to a file on disk as the pages are read; each batch's id is kept on the run once it exists.
      const batch = this.prepared.batched
        ? this.prepared.openBatch(options, async (batchIds) => {
            // Whatever the run's status: a batch submitted is paid for, and a later prepare collects it.
            await this.jobRuns.keepParams(row.id, { batch_ids: batchIds });
          })
        : null;
      try {
        let cursor = null;
        do {
          const page = await this.eligibleCustomers.page(criteria, cursor, pageSize);
          cursor = page.next;
          const targets = await this.targetsOf(page.customers, serviceCache);
          const noService = page.customers.length - targets.length;
          counts.processed += noService;
          counts.skipped += noService;
          if (batch) {
            const fresh = await this.prepared.addToBatch(batch, targets, options);
            counts.processed += fresh;
            counts.skipped += fresh;
          } else {
            this.add(counts, await this.prepared.draftLive(targets, options));
          }
          const status = await this.jobRuns.progress(row.id, lease.token, counts);
          if (status !== JobRunStatus.Running) return await this.jobRuns.end(row.id, lease.token, counts, JobRunStatus.Cancelled);
        } while (cursor && !signal.aborted);
        if (batch && !signal.aborted) {
          const batchIds = await batch.finish();
          // Waiting for the batches can take hours: run control's cancel or pause is seen at the next heartbeat,
          // and a later prepare collects them.
          const stopped = new AbortController();
          const heartbeat = setInterval(() => {
            void this.jobRuns.progress(row.id, lease.token, counts).then(
              (status) => status !== JobRunStatus.Running && stopped.abort(),
              () => undefined,
            );
          }, HEARTBEAT_MS).unref();
          try {
            const collecting = { ...options, signal: AbortSignal.any([signal, stopped.signal]) };
            const drafted = await this.prepared.collectBatches(batchIds, collecting, (ids) => this.profilesOf(ids));
            this.add(counts, { drafted, failed: batch.lines - drafted, skipped: 0 });
          } catch (error) {
            if (!stopped.signal.aborted || signal.aborted) throw error;
            return await this.jobRuns.end(row.id, lease.token, counts, JobRunStatus.Cancelled);
          } finally {
            clearInterval(heartbeat);
          }
        }
      } finally {
        await batch?.discard();
      }
      if (signal.aborted) throw signal.reason;
      await this.jobRuns.end(row.id, lease.token, counts, JobRunStatus.Done);
      this.logger.log({ msg: `Prepare done: ${counts.sent} drafts written, ${counts.failed} left to the send`, ...counts });
    } catch (error) {
      const reason = signal.aborted ? signal.reason : error;
      const message = reason instanceof Error ? reason.message : String(reason);
      const status = reason instanceof ShutdownError ? JobRunStatus.Interrupted : JobRunStatus.Failed;
      this.logger.error({ msg: `Prepare ${status === JobRunStatus.Interrupted ? 'interrupted' : 'failed'}: ${message}`, err: error });
      await this.jobRuns.end(row.id, lease.token, counts, status, message);
    }
  }

  /**
   * The batches of earlier prepares that stopped before collecting them (a restart, a lost lock), while their
   * send day lasts: their answers are stored for the customers whose facts have not changed. Drafts written.
   */
  private async collectEarlierBatches(options: PrepareOptions): Promise<number> {
    let drafted = 0;
    for (const earlier of await this.jobRuns.findUncollectedBatches(PREPARE_JOB_NAME)) {
      const params = earlier.params as { batch_ids: string[]; send_at?: string; expires_at?: string; send_day?: string };
      const expiresAt = params.expires_at ? new Date(params.expires_at) : null;
      if (expiresAt && expiresAt > new Date() && params.send_at && params.send_day) {
        // Of no use past the drafts' expiry: the wait ends there.
        const until = AbortSignal.timeout(expiresAt.getTime() - Date.now());
        const earlierOptions = { ...options, sendDay: params.send_day, sendAt: new Date(params.send_at), expiresAt, signal: AbortSignal.any([options.signal!, until]) };
        try {
          const collected = await this.prepared.collectBatches(params.batch_ids, earlierOptions, (ids) => this.profilesOf(ids));
          this.logger.log(`Collected the batches of prepare ${earlier.id}: ${collected} drafts`);
          drafted += collected;
        } catch (error) {
          if (options.signal?.aborted) throw error;
          // One batch that cannot be read (a rotated key, a file gone) must not stop every prepare after it.
          this.logger.warn({ msg: `The batches of prepare ${earlier.id} could not be collected; their customers are drafted at send time`, err: error });
        }
      }
      await this.jobRuns.markBatchesCollected(earlier.id);
    }
    return drafted;
  }

  private async profilesOf(ids: string[]): Promise<PrepareTarget[]> {
    return this.targetsOf(await this.customers.findProfiles(ids), new Map());
  }

  private add(counts: RunCounts, tally: PrepareTally): void {
    counts.processed += tally.drafted + tally.failed + tally.skipped;
    counts.sent += tally.drafted;
    counts.failed += tally.failed;
    counts.skipped += tally.skipped;
  }

  /** The page's customers with the service of their last booking; those without one are not drafted. */
  private async targetsOf(customers: CustomerProfile[], cache: Map<string, ServiceInfo>): Promise<PrepareTarget[]> {
    await lastBookedServices(this.services, customers, cache);
    return customers.flatMap((customer) => {
      const service = customer.lastBookingServiceId ? cache.get(customer.lastBookingServiceId) : undefined;
      return service ? [{ customer, service }] : [];
    });
  }

  /** Under the lock: every other RUNNING prepare row was left by a process that died. */
  private async settleAbandoned(liveToken: string): Promise<void> {
    const rows = await this.jobRuns.findRunning(PREPARE_JOB_NAME);
    const settled = await this.jobRuns.settleAbandoned(rows.filter((row) => row.leaseToken !== liveToken).map((row) => row.id));
    if (settled > 0) this.logger.warn(`Closed ${settled} prepare run(s) as FAILED, their lease expired`);
  }
}
