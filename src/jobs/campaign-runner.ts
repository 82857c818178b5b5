import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { finishWithin } from '../common/finish-within';
import { RequestContext } from '../common/request-context';
import { CustomerResult, customerResult, DeliveryFanOut, ExperimentSplit, FanOutItem, FanOutResult } from '../delivery/delivery-fan-out';
import { campaignMessageId } from '../delivery/delivery-jobs';
import { Slots } from '../common/slots';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { DeliveryStatus, SENT_OR_LATER } from '../messaging/delivery-status';
import { DeliveryRequest, FailureReason, SkipReason } from '../messaging/reminder-delivery';
import { CustomerProfile } from '../segmentation/customer-profile';
import { EligibilityCriteria, EligibleCustomerRepository } from '../segmentation/eligible-customer.repository';
import { lastBookedServices, ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { CustomerRepository } from '../segmentation/customer.repository';
import { CampaignPlan, CampaignReport, RESULT_LIMIT } from './campaign.types';
import { JobRunStatus, ResumeState } from './job-run.entity';
import { Metric } from '../metrics/metric-names';
import { RunControl, RunPage, RunStoppedError } from './run-control';
import { JobRunRepository, RunCounts } from './job-run.repository';
import { ShutdownError } from './shutdown.service';
import { ExperimentsService } from '../experiments/experiments.service';
import { DAY_MS, isWithinHours, localDay, rangeEndsAt } from '../common/local-time';

const PROGRESS_LOG_INTERVAL_MS = 5_000;
/** How often, and how long, a run whose failure could not be recorded tries again. */
const RECORD_FAILURE_RETRY_MS = 2_000;
const RECORD_FAILURE_PATIENCE_MS = 10 * 60_000;

/** One attempt at a run: a fresh run, or a resumed one with its row's start, counts and resume state. */
export interface RunAttempt {
  plan: CampaignPlan;
  jobRunId: string;
  correlationId: string;
  /** The campaign-lock lease the run holds; null for a dry run. */
  leaseToken: string | null;
  /** Shutdown, or the lost lease. */
  stop: AbortSignal;
  resume?: { startedAt: Date; counts: RunCounts; state: ResumeState };
}

/**
 * One campaign run, already holding the campaign lock: page through the eligible customers by key and
 * hand each page to the DeliveryFanOut, `concurrency` at a time. A customer's failure is counted, never fatal.
 * When it is told to stop (shutdown, a lost lock, or run control: pause, cancel, auto-pause) no further
 * customer starts, those in flight get SHUTDOWN_GRACE_SECONDS to finish, and the run is recorded with the
 * counts so far and where a resume picks up.
 */
@Injectable()
export class CampaignRunner {
  private readonly logger = new Logger(CampaignRunner.name);

  constructor(
    private readonly eligibleCustomers: EligibleCustomerRepository,
    private readonly services: ServiceRepository,
    private readonly customers: CustomerRepository,
    private readonly fanOut: DeliveryFanOut,
    private readonly jobRuns: JobRunRepository,
    private readonly experiments: ExperimentsService,
    private readonly messages: AiMessageRepository,
    private readonly config: AppConfig,
    @InjectMetric(Metric.CampaignAutoPauses) private readonly autoPauses: Counter<string>,
  ) {}

  /** Every line logged during the run, deliveries included, carries its job_runs id as `runId`. */
  run(attempt: RunAttempt): Promise<CampaignReport> {
    return RequestContext.with({ runId: attempt.jobRunId }, () => this.runInContext(attempt));
  }

  private async runInContext(attempt: RunAttempt): Promise<CampaignReport> {
    const { plan, jobRunId, correlationId, resume } = attempt;
    const startedAt = new Date();
    const counts: RunCounts = resume ? { ...resume.counts } : { totalEligible: 0, processed: 0, sent: 0, failed: 0, skipped: 0, unknown: 0 };
    // Customers whose delivery threw: counted failed until their rows say otherwise (see followRows).
    const unresolved = new Set<string>();
    const results: CustomerResult[] = [];
    const control = new RunControl(
      this.jobRuns,
      {
        jobRunId,
        leaseToken: attempt.leaseToken,
        autoPause: this.config.campaign.autoPause,
        onAutoPause: (reason) => {
          this.autoPauses.inc();
          this.logger.warn({ msg: `Campaign ${jobRunId} ${reason}`, ...counts });
        },
      },
      counts,
      resume?.state.campaignDay ?? localDay(startedAt, this.config.campaign.timeZone),
      resume?.state,
    );
    // Aborted when the run fails: the page still in flight stops starting customers.
    const failing = new AbortController();
    const stop = AbortSignal.any([attempt.stop, control.signal, failing.signal]);
    let recorded = false;
    // A dry run counts customers as processed without an outcome. Once the row is written, stragglers
    // past the grace no longer change the counts it reports. A customer the delivery layer did not process
    // (shutting_down) is not counted at all: a resume delivers to them.
    const record = (page: RunPage, result: FanOutResult | { customerId: string; dryRun: true }) => {
      if (recorded) return;
      const notProcessed = 'outcome' in result && result.outcome.status === 'skipped' && result.outcome.reason === SkipReason.ShuttingDown;
      control.finished(page, result.customerId, !notProcessed);
      if (notProcessed) return;
      const { count, result: line } =
        'outcome' in result
          ? customerResult(result)
          : { count: null, result: { customerId: result.customerId, success: false, reason: 'dry_run' } };
      counts.processed++;
      const kind = count === 'failed' && isUnknown(result) ? 'unknown' : count;
      if (kind) counts[kind]++;
      if (kind && kind !== 'skipped') control.delivered(kind !== 'sent', failureOf(result));
      if ('outcome' in result && result.outcome.status === 'error') {
        unresolved.add(campaignMessageId(jobRunId, plan.channel, result.customerId));
      }
      if (results.length < RESULT_LIMIT) results.push(line);
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

    // The page whose deliveries are still going while the next one is read and started.
    let inFlight: Promise<void> = Promise.resolve();
    try {
      // A resumed run keeps the criteria of its start, so the customers it pages through are the same ones.
      const criteria = this.criteria(plan, resume?.startedAt ?? startedAt);
      if (!resume) counts.totalEligible = await this.eligibleCustomers.countEligible(criteria);
      this.logger.log({
        msg: `Campaign ${resume ? 'resumed' : 'started'}: ${counts.totalEligible} eligible customers (${plan.preset})`,
        eligible: counts.totalEligible,
        preset: plan.preset,
        dryRun: plan.dryRun,
      });
      await control.beat();
      control.start();

      // LLM drafts whose budget turn would come after the window closes get the template at once (llm_budget).
      const windowClosesAt = rangeEndsAt(new Date(), this.config.campaign.timeZone, plan.sendWindow).getTime();
      const campaign = { day: control.snapshot().resumeState.campaignDay, jobRunId, windowClosesAt };
      // A resumed run keeps its experiment even if it was stopped meanwhile: its assigned customers keep their arm.
      const experiment = plan.experiment ? await this.experiments.split(plan.experiment, plan.channel, { allowStopped: true }) : undefined;
      const { pageSize, concurrency } = this.fanOut.campaignPace(plan.batchSize);
      // Shared by the pages: the next page's customers start as the last page's finish, so one slow customer
      // (a retry's backoff) does not idle every worker at the end of its page.
      const slots = new Slots(concurrency);
      let lastLog = Date.now();
      const serviceCache = new Map<string, ServiceInfo>();
      let cursor = control.resumeCursor;
      if (resume && !plan.dryRun) {
        inFlight = this.retryWaiting(control, plan, correlationId, campaign, { concurrency, slots, signal: stop, record, experiment });
      }
      let more = true;
      while (more && !stop.aborted) {
        // The window is checked before every page, not only at the start: a long run stops when it closes
        // (a later run the same day resumes where this one stopped).
        if (!plan.dryRun && !isWithinHours(new Date(), this.config.campaign.timeZone, plan.sendWindow)) {
          await inFlight;
          const stopped = `stopped: the send window closed after ${counts.processed} customers`;
          this.logger.warn({ msg: `Campaign ${stopped}`, ...counts });
          recorded = true;
          await control.close();
          await this.followRows(counts, unresolved);
          await this.jobRuns.finish(control.snapshot(), JobRunStatus.Done, stopped);
          return report('DONE', stopped);
        }
        const { customers, next } = await this.eligibleCustomers.page(criteria, cursor, pageSize);
        const page = control.pageRead(customers.map((customer) => customer.id), next);
        const fresh = customers.filter((customer) => !control.wasCounted(customer.id));

        let delivering: Promise<void> = Promise.resolve();
        if (plan.dryRun) {
          fresh.forEach((customer) => record(page, { customerId: customer.id, dryRun: true }));
          control.pageDone(page, true);
        } else {
          const services = await lastBookedServices(this.services, fresh, serviceCache);
          const items = fresh.map((customer) => this.item(customer, services, plan, correlationId, campaign));
          control.handed(page, items.length);
          void control.beat(); // shows the page's customers as in flight now, not at the next tick
          const deliveries = this.fanOut.deliverAll(items, { concurrency, slots, signal: stop, onResult: (result) => record(page, result), experiment });
          // A page the run stopped in is read again on resume, skipping the customers it counted.
          delivering = finishWithin(deliveries, stop, this.config.shutdownGraceMs).then((finished) => {
            if (!finished) this.logger.warn(`Campaign ${jobRunId}: messages still in flight after the grace are not counted`);
            control.pageDone(page, !stop.aborted);
          });
        }
        cursor = next;
        more = next !== null;
        // At most two pages at once: this one fills the slots the one before frees, and the next is read only
        // once that one is over (a page is QUEUE_MAX_PENDING customers in queue mode, the bound on Redis memory).
        await inFlight;
        inFlight = delivering;
        await control.beat();
        if (Date.now() - lastLog >= PROGRESS_LOG_INTERVAL_MS) {
          lastLog = Date.now();
          this.logProgress(counts, startedAt);
        }
      }
      await inFlight;
      recorded = true;
      await control.close();
      await this.followRows(counts, unresolved);
      if (stop.aborted) return report(...(await this.recordStop(control, stop.reason)));
      const done = await this.jobRuns.finish(control.snapshot(), JobRunStatus.Done);
      this.logProgress(counts, startedAt);
      // Paused or cancelled as its last page finished: the row keeps that, and so does the answer.
      return done && isControlled(done.status) ? report(done.status, done.error ?? undefined) : report('DONE');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error({ msg: `Campaign failed: ${message}`, err: error });
      failing.abort(error);
      await inFlight;
      recorded = true;
      await control.close();
      await this.recordFailure(control, unresolved, message);
      return report('FAILED', message);
    }
  }

  /**
   * A resumed run first delivers again to the customers whose message was waiting for its retry when it stopped
   * (paused): the claim took them out of the eligible customers, so no page has them. Same message ids: each
   * continues from its `queued` row, its attempts counted.
   */
  private async retryWaiting(
    control: RunControl,
    plan: CampaignPlan,
    correlationId: string,
    campaign: { day: string; jobRunId: string },
    pace: {
      concurrency: number;
      slots: Slots;
      signal: AbortSignal;
      record: (page: RunPage, result: FanOutResult) => void;
      // The customers' arms were recorded when they were first handed over: the retry sends with the same overrides.
      experiment?: ExperimentSplit;
    },
  ): Promise<void> {
    const waiting = (await this.messages.findQueuedCustomersOfRun(campaign.jobRunId)).filter((id) => !control.wasCounted(id));
    if (waiting.length === 0) return;
    this.logger.log(`Campaign ${campaign.jobRunId}: ${waiting.length} message(s) were waiting for a retry; retrying them`);
    const customers = await this.customers.findProfiles(waiting);
    const services = await lastBookedServices(this.services, customers, new Map());
    const page = control.sidePage(waiting);
    const items = customers.map((customer) => this.item(customer, services, plan, correlationId, campaign));
    control.handed(page, items.length);
    const { concurrency, slots, signal, record, experiment } = pace;
    await finishWithin(
      this.fanOut.deliverAll(items, { concurrency, slots, signal, onResult: (result) => record(page, result), experiment }),
      signal,
      this.config.shutdownGraceMs,
    );
    control.pageDone(page, !signal.aborted);
  }

  /**
   * Records a run that was told to stop, with where to resume: INTERRUPTED on shutdown, PAUSED or CANCELLED by
   * run control (the row keeps the status and reason it was given), FAILED when the campaign lock was lost.
   */
  private async recordStop(control: RunControl, reason: unknown): Promise<[CampaignReport['status'], string]> {
    const { id, counts } = control.snapshot();
    const status =
      reason instanceof RunStoppedError && isControlled(reason.status)
        ? reason.status
        : reason instanceof ShutdownError
          ? JobRunStatus.Interrupted
          : JobRunStatus.Failed;
    const why = reason instanceof Error ? reason.message : String(reason);
    const error = reason instanceof RunStoppedError ? why : `${status === JobRunStatus.Interrupted ? 'interrupted' : 'failed'}: ${why}, after ${counts.processed} customers`;
    const row = await this.jobRuns.finish(control.snapshot(), status, error);
    const final = row && row.status !== JobRunStatus.Running ? (row.status as CampaignReport['status']) : status;
    const finalError = row?.error ?? error;
    const said = reason instanceof RunStoppedError ? `${finalError}, after ${counts.processed} customers` : finalError;
    this.logger.warn(`Campaign ${id} ${said} (${counts.sent} sent, ${counts.failed} failed, ${counts.skipped} skipped)`);
    return [final, finalError];
  }

  /**
   * Records the failed end with the counts the answer gives. A run fails most often because the database went
   * away, and then the record cannot land at once: it is tried again every few seconds until the database is
   * back, so the row ends as the answer said (not RUNNING with the last heartbeat's counts, later settled as
   * "abandoned" by a replica that sees its lease expired while this process is alive).
   */
  private async recordFailure(control: RunControl, unresolved: Set<string>, message: string): Promise<void> {
    const { id, counts } = control.snapshot();
    const record = async () => {
      await this.followRows(counts, unresolved);
      await this.jobRuns.finish(control.snapshot(), JobRunStatus.Failed, message);
    };
    try {
      await record();
      return;
    } catch (error) {
      this.logger.error({ msg: `Campaign ${id}: could not record the failure yet; trying again until the database answers`, err: error });
    }
    void (async () => {
      for (let waited = 0; waited < RECORD_FAILURE_PATIENCE_MS; waited += RECORD_FAILURE_RETRY_MS) {
        await sleep(RECORD_FAILURE_RETRY_MS, undefined, { ref: false });
        try {
          await record();
          this.logger.warn(`Campaign ${id}: recorded its failure once the database answered again`);
          return;
        } catch {
          // still unreachable
        }
      }
      this.logger.error(`Campaign ${id}: gave up recording its failure; its lease expiry closes the row`);
    })();
  }

  /**
   * A delivery that threw (its database write failed, say) says nothing of its message: the email may have been
   * accepted before the write failed. Its row does: one that went out counts as sent, one left `sending` or
   * settled `unknown` as unknown, anything else stays failed. When the rows cannot be read, the counts stay.
   */
  private async followRows(counts: RunCounts, unresolved: Set<string>): Promise<void> {
    if (unresolved.size === 0) return;
    try {
      for (const [id, status] of await this.messages.deliveryStatusesOf([...unresolved])) {
        if (SENT_OR_LATER.has(status)) counts.sent++;
        else if (status === DeliveryStatus.Sending || status === DeliveryStatus.Unknown) counts.unknown++;
        else continue;
        counts.failed--;
        unresolved.delete(id);
      }
    } catch (error) {
      this.logger.warn(`Could not read the rows of ${unresolved.size} customer(s) whose delivery threw; counted as failed: ${String(error)}`);
    }
  }

  private criteria(plan: CampaignPlan, now: Date): EligibilityCriteria {
    return campaignCriteria(plan, now, this.config.frequencyCap);
  }

  private item(
    customer: CustomerProfile,
    services: Map<string, ServiceInfo>,
    plan: CampaignPlan,
    correlationId: string,
    campaign: NonNullable<DeliveryRequest['campaign']>,
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
        // The same for the same run and customer: a customer handed over again (a resumed run, a job added
        // again) continues the message's row instead of claiming another.
        messageId: campaignMessageId(campaign.jobRunId, plan.channel, customer.id),
      },
    };
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

function isControlled(status: JobRunStatus): status is JobRunStatus.Paused | JobRunStatus.Cancelled {
  return status === JobRunStatus.Paused || status === JobRunStatus.Cancelled;
}

function failureOf(result: FanOutResult | { dryRun: true }): string | undefined {
  if (!('outcome' in result)) return undefined;
  const { outcome } = result;
  return outcome.status === 'failed' || outcome.status === 'error' ? outcome.error : undefined;
}

/** A delivery whose row ended `unknown`: the message may have gone out, so it is not counted as failed. */
function isUnknown(result: FanOutResult | { dryRun: true }): boolean {
  return 'outcome' in result && result.outcome.status === 'failed' && result.outcome.reason === FailureReason.DeliveryUnknown;
}

/** Who a run of `plan` at `now` reaches: the campaign's eligibility, shared by its run and its prepare. */
export function campaignCriteria(
  plan: Pick<CampaignPlan, 'channel' | 'bookingCadenceDays'>,
  now: Date,
  frequencyCap: AppConfig['frequencyCap'],
): EligibilityCriteria {
  const { maxMessages, windowDays } = frequencyCap;
  return {
    channel: plan.channel,
    bookedBefore: new Date(now.getTime() - plan.bookingCadenceDays * DAY_MS),
    // With a cap of one message per window, "messaged within the window" is exactly "capped";
    // with a larger cap the claim alone decides.
    messagedBefore: maxMessages === 1 ? new Date(now.getTime() - windowDays * DAY_MS) : null,
    now,
  };
}
