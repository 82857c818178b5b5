import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { DelayedError, Job } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Histogram } from 'prom-client';
import { InFlight } from '../common/in-flight';
import { AppConfig } from '../config/app-config';
import { RequestContext } from '../common/request-context';
import { RetryLater } from '../messaging/delivery-retry';
import { ReminderDeliveryStep } from '../messaging/reminder-delivery-step';
import { Channel } from '../messaging/message.types';
import { DeliveryOutcome } from '../messaging/reminder-delivery';
import { Metric } from '../metrics/metric-names';
import { DELIVERY_QUEUES, DeliveryJobData, fromJobData } from './delivery-jobs';
import { QueueErrorLog } from './queue-error-log';
import { QueuedReminderDelivery } from './queued-reminder-delivery';

/** How long a health check waits for a worker's connection before calling it not ready. */
const HEALTH_WAIT_MS = 1_000;

/**
 * Provider-wide failures in a row (no send in between) before every worker of the queue waits. A provider that
 * answers one send in a hundred with 421 is not down: that job alone waits for its retry.
 */
const PROVIDER_OUTAGE_FAILURES = 3;

/**
 * Consumes one channel's delivery jobs: each runs the same per-customer step as in-process mode (claim → draft
 * → check → mark sending → send → record), with the job id as the message id, so a job BullMQ runs again
 * (its worker died: "stalled") continues from the message's row instead of sending twice. Transient failures
 * come back as RetryLater: one about the recipient delays just this job; the provider failing in a row (421, 454,
 * a refused connection, 429) rate-limits the whole queue, so every worker slows down, not just this one.
 *
 * Shutdown: stops taking jobs, gives those in flight SHUTDOWN_GRACE_SECONDS, then settles what is still running
 * (queued → failed, sending → unknown), so no row is left `sending`.
 */
abstract class DeliveryWorker extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger: Logger;
  /** Jobs this process is delivering now. */
  private readonly active = new InFlight();
  /** Provider-wide failures since this worker's last send: an outage is failures in a row, not one among sends. */
  private providerFailuresInARow = 0;

  constructor(
    private readonly channel: Channel,
    private readonly deps: DeliveryWorkerDeps,
  ) {
    super();
    this.logger = new Logger(`DeliveryWorker:${channel}`);
    deps.workers.add(this);
  }

  onApplicationBootstrap(): void {
    this.worker.on('error', (error) => this.deps.errors.report(`${this.worker.name} worker`, error));
    // Failed jobs are removed at once (a job added again under the same id must run); the reason stays here.
    this.worker.on('failed', (job, error) =>
      this.logger.error({ msg: `Delivery job ${job?.id} failed after ${job?.attemptsMade} attempt(s): ${error.message}`, err: error }),
    );
    // Jobs waiting for an LLM draft (email or SMS) hold no send slot (ReminderDeliveryStep bounds the sends).
    const { apiKey, concurrency: llmConcurrency } = this.deps.config.openai;
    const drafting = apiKey ? llmConcurrency : 0;
    this.worker.concurrency = this.deps.config.queue.workerConcurrency + drafting;
    void this.worker.run().catch((error: Error) => this.deps.errors.report(`${this.worker.name} worker`, error));
  }

  /** Whether this worker runs and its Redis connection is ready (null), or why not. */
  async queueProblem(): Promise<string | null> {
    if (!this.worker.isRunning()) return `${this.worker.name} worker is not running`;
    const client = await Promise.race([this.worker.client, sleep(HEALTH_WAIT_MS, null, { ref: false })]);
    const status = client?.status ?? 'connecting';
    return status === 'ready' ? null : `${this.worker.name} worker's Redis connection is ${status}`;
  }

  process(job: Job<DeliveryJobData>, token?: string): Promise<DeliveryOutcome> {
    return this.active.track(this.deliver(job, token));
  }

  private async deliver(job: Job<DeliveryJobData>, token?: string): Promise<DeliveryOutcome> {
    const request = fromJobData(job.data, job.id!);
    const context = { runId: request.campaign?.jobRunId };
    return RequestContext.run(request.correlationId, () =>
      RequestContext.with(context, async () => {
        try {
          const outcome = await this.deps.delivery.deliver({ ...request, deferRetries: true });
          if (outcome.status === 'sent') {
            this.providerFailuresInARow = 0;
            this.deps.latency.observe({ channel: this.channel }, (Date.now() - job.data.enqueuedAt) / 1000);
          }
          return outcome;
        } catch (error) {
          if (!(error instanceof RetryLater)) throw error;
          if (error.providerWide) this.providerFailuresInARow++;
          if (error.providerWide && this.providerFailuresInARow >= PROVIDER_OUTAGE_FAILURES) {
            // Every worker of the queue waits; this job also keeps its own growing backoff, so jobs fetched
            // when the wait ends (each on its first attempt) cannot use up its attempts within one outage.
            this.deps.rateLimitWaits.inc({ queue: this.worker.name });
            this.logger.warn(`Message ${job.id}: ${error.message}; every ${this.worker.name} worker waits as long`);
            await this.deps.queues.queue(this.channel).rateLimit(error.delayMs);
          } else {
            this.logger.warn(`Message ${job.id}: ${error.message}`);
          }
          await job.moveToDelayed(Date.now() + error.delayMs, token);
          throw new DelayedError();
        }
      }),
    );
  }

  /**
   * Called by AppShutdown (through DeliveryWorkers) while the mailer and the database are still open: takes no
   * more jobs, gives those in flight the grace, then settles what is still running (queued → failed,
   * sending → unknown) and closes without waiting for it. BullMQ hands such a job to another worker once its lock
   * expires, and that worker's claim finds the settled row.
   */
  async stop(graceMs: number): Promise<void> {
    await this.worker.pause(true);
    const finished = await this.active.settledWithin(graceMs);
    if (!finished) {
      const settled = await this.deps.delivery.settleInFlight();
      this.logger.warn(`Deliveries still in flight after the grace; settled ${settled} message(s) (queued released, sending unknown)`);
    }
    // Forced either way: our jobs are finished or settled, and a graceful close also waits for BullMQ's fetch
    // loop, which can hang on a connection that is reconnecting (Redis just came back).
    await this.worker.close(true);
  }
}

/**
 * The delivery workers of this process (none in-process or with APP_ROLE=api), for AppShutdown to stop them
 * first thing, while the mailer is still open.
 */
@Injectable()
export class DeliveryWorkers {
  private readonly workers: DeliveryWorker[] = [];

  add(worker: DeliveryWorker): void {
    this.workers.push(worker);
  }

  async stop(graceMs: number): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop(graceMs)));
  }

  /** Whether this process consumes a queue (queue mode, APP_ROLE all or worker). */
  get consuming(): boolean {
    return this.workers.length > 0;
  }

  /** Why a worker of this process cannot take jobs now, or null when every one can. */
  async queueProblem(): Promise<string | null> {
    const problems = await Promise.all(this.workers.map((worker) => worker.queueProblem()));
    return problems.find((problem) => problem !== null) ?? null;
  }
}

/** What every delivery worker needs, injected once for both (a @Processor class is needed per queue). */
@Injectable()
export class DeliveryWorkerDeps {
  constructor(
    readonly delivery: ReminderDeliveryStep,
    readonly errors: QueueErrorLog,
    readonly config: AppConfig,
    @InjectMetric(Metric.DeliveryQueueLatency) readonly latency: Histogram<string>,
    @InjectMetric(Metric.DeliveryRateLimitWaits) readonly rateLimitWaits: Counter<string>,
    readonly queues: QueuedReminderDelivery,
    readonly workers: DeliveryWorkers,
  ) {}
}

/** Worker options are fixed here; concurrency is set from WORKER_CONCURRENCY before the worker starts. */
const WORKER_OPTIONS = { autorun: false } as const;

@Processor(DELIVERY_QUEUES[Channel.Email], WORKER_OPTIONS)
export class EmailDeliveryWorker extends DeliveryWorker {
  constructor(deps: DeliveryWorkerDeps) {
    super(Channel.Email, deps);
  }
}

@Processor(DELIVERY_QUEUES[Channel.Sms], WORKER_OPTIONS)
export class SmsDeliveryWorker extends DeliveryWorker {
  constructor(deps: DeliveryWorkerDeps) {
    super(Channel.Sms, deps);
  }
}
