import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { InFlight } from '../common/in-flight';
import { AppConfig } from '../config/app-config';
import { Slots } from '../common/slots';
import { DeliveryOutcome, DeliveryRequest, ReminderDelivery, SkipReason } from '../messaging/reminder-delivery';
import { precheck } from '../messaging/reminder-delivery-step';

/** One customer of a fan-out: the request to deliver, or why the caller already knows to skip them. */
export type FanOutItem = { customerId: string } & ({ request: DeliveryRequest } | { skip: SkipReason });

/** What became of one customer; `error` when the delivery threw (one customer's failure never stops the rest). */
export type FanOutOutcome = DeliveryOutcome | { status: 'error'; error: string };

export interface FanOutResult {
  customerId: string;
  outcome: FanOutOutcome;
}

/**
 * How a send that names an experiment treats each customer it would message: null holds the customer out (no
 * message, no job, no frequency-cap slot), else the request with their arm's overrides. The first call for a
 * customer records their arm.
 */
export interface ExperimentSplit {
  apply(request: DeliveryRequest): Promise<DeliveryRequest | null>;
}

/** Queue mode: no outcome within SEND_WAIT_SECONDS; the message is delivered when a worker takes its job. */
export type StillQueued = { status: 'queued'; messageId: string };

export interface AnsweredResult {
  customerId: string;
  outcome: FanOutOutcome | StillQueued;
}

/** One customer's line in a multi-customer send's results (send-bulk, a campaign run). */
export interface CustomerResult {
  customerId: string;
  success: boolean;
  messageId?: string;
  reason?: string;
}

/** Which count a customer adds to. */
export type ResultCount = 'sent' | 'failed' | 'skipped';

/** The one reading of an outcome, for send-bulk and the campaign: a delivery that threw is failed (internal_error). */
export function customerResult({ customerId, outcome }: FanOutResult): { count: ResultCount; result: CustomerResult } {
  switch (outcome.status) {
    case 'sent':
      return { count: 'sent', result: { customerId, success: true, messageId: outcome.messageId } };
    case 'failed':
      return { count: 'failed', result: { customerId, success: false, messageId: outcome.messageId, reason: outcome.reason } };
    case 'skipped':
      return { count: 'skipped', result: { customerId, success: false, reason: outcome.reason } };
    case 'error':
      return { count: 'failed', result: { customerId, success: false, reason: 'internal_error' } };
  }
}

/** send-single and send-bulk in queue mode: as customerResult, and a customer still queued counts as `queued`. */
export function answeredResult(answered: AnsweredResult): { count: ResultCount | 'queued'; result: CustomerResult } {
  const { customerId, outcome } = answered;
  if (outcome.status === 'queued') return { count: 'queued', result: { customerId, success: false, messageId: outcome.messageId, reason: 'queued' } };
  return customerResult({ customerId, outcome });
}

export interface FanOutOptions {
  /** Customers in flight at once. */
  concurrency: number;
  /** Once aborted (the caller's run stops), no further customer starts; those in flight finish. */
  signal?: AbortSignal;
  /** Called as each customer finishes, in completion order; never for customers that did not start. */
  onResult?: (result: FanOutResult) => void;
  /** The experiment the send names: applied here, so every send path (bulk, campaign, queue mode) splits alike. */
  experiment?: ExperimentSplit;
  /** Shared with other fan-outs (a campaign's pages): a customer starts only once it holds a slot. */
  slots?: Slots;
}

/**
 * The one path from customers to outcomes: send-single (a fan-out of one), send-bulk and every page of the
 * campaign deliver through here, with bounded concurrency. At shutdown it stops starting customers, gives those
 * in flight SHUTDOWN_GRACE_SECONDS to finish, and has the delivery settle any still running, so no message is
 * left `sending`.
 */
@Injectable()
export class DeliveryFanOut {
  private readonly logger = new Logger(DeliveryFanOut.name);
  private readonly shutdown = new AbortController();
  private readonly running = new InFlight();
  private shutdownStartedAt = 0;

  constructor(
    private readonly delivery: ReminderDelivery,
    private readonly config: AppConfig,
  ) {}

  /**
   * Delivers to every item, at most `concurrency` at a time; one result per item, in input order. Items that did
   * not start because the service is shutting down (or `signal` aborted) are skipped as `shutting_down`.
   */
  deliverAll(items: readonly FanOutItem[], options: FanOutOptions): Promise<FanOutResult[]> {
    return this.start(items, options).done;
  }

  /**
   * send-single and send-bulk: as deliverAll, but in queue mode the answer comes within SEND_WAIT_SECONDS. A
   * customer whose outcome has not come back by then (no worker running, a retry waiting) is answered `queued`
   * with its message id, fixed here for that, and delivered all the same when a worker takes the job. The
   * workers bound the work in queue mode, so up to QUEUE_MAX_PENDING jobs are added at once.
   */
  async deliverAnswering(items: readonly FanOutItem[], concurrency: number, experiment?: ExperimentSplit): Promise<AnsweredResult[]> {
    if (!this.config.redis.url) return this.deliverAll(items, { concurrency, experiment });
    const { maxPending, sendWaitMs } = this.config.queue;
    const withIds = items.map((item) => ('request' in item ? { ...item, request: { ...item.request, messageId: item.request.messageId ?? randomUUID() } } : item));
    const { results, done } = this.start(withIds, { concurrency: Math.max(concurrency, maxPending), experiment });
    const waited = new AbortController();
    await Promise.race([done, sleep(sendWaitMs, undefined, { signal: waited.signal }).catch(() => undefined)]);
    waited.abort();
    return withIds.map((item, index): AnsweredResult => {
      if (results[index]) return results[index];
      const { customerId } = item;
      if ('skip' in item) return { customerId, outcome: { status: 'skipped', reason: item.skip } };
      return { customerId, outcome: { status: 'queued', messageId: item.request.messageId! } };
    });
  }

  /** Starts the fan-out: `results` fills in as customers finish; `done` resolves with all of them. */
  private start(items: readonly FanOutItem[], options: FanOutOptions): { results: FanOutResult[]; done: Promise<FanOutResult[]> } {
    const signal = options.signal ? AbortSignal.any([this.shutdown.signal, options.signal]) : this.shutdown.signal;
    // In queue mode every pending customer listens for the abort: a page of QUEUE_MAX_PENDING of them.
    setMaxListeners(0, signal);
    const results = new Array<FanOutResult>(items.length);
    let next = 0;
    const { slots } = options;
    const worker = async () => {
      while (next < items.length && !signal.aborted) {
        const release = slots ? await slots.acquire(Infinity, signal) : () => undefined;
        if (!release) break;
        if (next >= items.length || signal.aborted) {
          release();
          break;
        }
        const index = next++;
        try {
          results[index] = { customerId: items[index].customerId, outcome: await this.running.track(this.deliverItem(items[index], signal, options.experiment)) };
        } finally {
          release();
        }
        options.onResult?.(results[index]);
      }
    };
    const done = Promise.all(Array.from({ length: Math.min(options.concurrency, items.length) }, worker)).then(() => {
      for (let i = next; i < items.length; i++) {
        results[i] = { customerId: items[i].customerId, outcome: { status: 'skipped', reason: SkipReason.ShuttingDown } };
      }
      return results;
    });
    return { results, done };
  }

  /**
   * How a campaign feeds the fan-out: customers read per page, and in flight at once. In-process, the page is the
   * plan's batch_size and CAMPAIGN_CONCURRENCY (plus OPENAI_CONCURRENCY with an LLM) bounds the work in this process. In queue mode the workers do the
   * work, so the producer keeps QUEUE_MAX_PENDING jobs in the queue (enough for every worker's slots; the bound
   * on Redis memory) and reads pages that large.
   */
  campaignPace(batchSize: number): { pageSize: number; concurrency: number } {
    // The run shares `concurrency` slots across its pages (Slots), so the next page starts as the last drains.
    if (this.config.redis.url) {
      const { maxPending } = this.config.queue;
      return { pageSize: Math.max(batchSize, maxPending), concurrency: maxPending };
    }
    // Customers waiting for an LLM draft hold no send slot (ReminderDeliveryStep bounds the sends): more in flight.
    const { apiKey, concurrency: llmConcurrency } = this.config.openai;
    const concurrency = this.config.campaign.concurrency + (apiKey ? llmConcurrency : 0);
    return { pageSize: batchSize, concurrency: Math.min(batchSize, concurrency) };
  }

  async deliverOne(item: FanOutItem): Promise<FanOutOutcome> {
    const [result] = await this.deliverAll([item], { concurrency: 1 });
    return result.outcome;
  }

  /**
   * Stops starting customers; the grace for those in flight counts from the first call. AppShutdown calls this
   * as the application starts closing, so a campaign run's grace and the fan-out's are one and the same.
   */
  beginShutdown(): void {
    if (this.shutdown.signal.aborted) return;
    this.shutdownStartedAt = Date.now();
    this.shutdown.abort();
  }

  /**
   * Called by AppShutdown, the first shutdown hook, while the mailer and the database are still open: stops
   * starting customers, waits for those in flight until the grace (counted from beginShutdown) is over, then
   * has the delivery settle what is still running.
   */
  async stop(): Promise<void> {
    this.beginShutdown();
    if (this.running.size > 0) {
      const graceMs = Math.max(0, this.shutdownStartedAt + this.config.shutdownGraceMs - Date.now());
      this.logger.log(`Shutting down: ${this.running.size} deliveries in flight get up to ${graceMs / 1000} s to finish`);
      if (!(await this.running.settledWithin(graceMs))) this.logger.warn(`${this.running.size} deliveries were still in flight after the grace`);
    }
    const settled = await this.delivery.settleInFlight();
    if (settled > 0) this.logger.warn(`Settled ${settled} interrupted message(s): queued ones released, sending ones unknown`);
  }

  private async deliverItem(item: FanOutItem, signal: AbortSignal, experiment?: ExperimentSplit): Promise<FanOutOutcome> {
    if ('skip' in item) return { status: 'skipped', reason: item.skip };
    try {
      let request = item.request;
      // Only customers who would be messaged are assigned (the delivery skips the others, with its reason).
      if (experiment && !precheck(request, this.config)) {
        const split = await experiment.apply(request);
        if (!split) return { status: 'skipped', reason: SkipReason.Holdout };
        request = split;
      }
      return await this.delivery.deliver({ ...request, signal });
    } catch (error) {
      this.logger.error({ msg: 'Customer failed', customerId: item.customerId, err: error });
      return { status: 'error', error: error instanceof Error ? error.message : String(error) };
    }
  }

}
