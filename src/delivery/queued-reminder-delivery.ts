import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Job, Queue, QueueEvents } from 'bullmq';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { StaleQueued } from '../messaging/ai-message.repository';
import { DeliveryJobProbe, WaitingJob } from '../messaging/delivery-job-probe';
import { Channel } from '../messaging/message.types';
import { DeliveryOutcome, DeliveryRequest, ReminderDelivery, SkipReason } from '../messaging/reminder-delivery';
import {
  DELIVERY_JOB_NAME,
  DELIVERY_JOB_OPTIONS,
  DELIVERY_QUEUES,
  DeliveryJobData,
  redactedRedisUrl,
  toJobData,
} from './delivery-jobs';
import { QueueErrorLog } from './queue-error-log';
import { checkRedisAccepts } from './redis-boot-check';

/** How often the producer checks that the jobs it waits for still exist (Redis restarted empty, an event lost). */
const WATCHDOG_INTERVAL_MS = 10_000;
/** Jobs per second standing for "no limit" in BullMQ's global rate limit. */
const NO_RATE_LIMIT = 1_000_000;
/** Longest boot waits for Redis before it fails naming REDIS_URL. */
const BOOT_WAIT_MS = 5_000;

interface Pending {
  channel: Channel;
  data: DeliveryJobData;
  addedAt: number;
  resolve: (outcome: DeliveryOutcome) => void;
  reject: (error: Error) => void;
}

/**
 * Queue mode's producer side: each delivery becomes a job on its channel's BullMQ queue, with the message id as
 * the job id, and resolves with the outcome a worker (in any process) returns. The Postgres claim stays the guard
 * against sending twice; this side makes sure nothing is lost on the way:
 * - outcomes arrive through one QueueEvents stream per queue, listened to before any job is added;
 * - a watchdog re-adds a job that vanished (Redis restarted without its data, or its completion event was
 *   trimmed away): the worker's claim answers `exists` and continues from the row, so nothing is sent twice;
 * - when the caller's signal aborts (a run paused, cancelled or shut down), jobs no worker took yet are removed
 *   and answered `shutting_down` ("not processed"); those already taken finish.
 */
@Injectable()
export class QueuedReminderDelivery extends ReminderDelivery implements DeliveryJobProbe, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('DeliveryQueue');
  private readonly queues: Record<Channel, Queue>;
  private readonly events = new Map<Channel, QueueEvents>();
  private readonly pending = new Map<string, Pending>();
  private watchdog?: NodeJS.Timeout;
  private checking = false;

  constructor(
    @InjectQueue(DELIVERY_QUEUES[Channel.Email]) email: Queue,
    @InjectQueue(DELIVERY_QUEUES[Channel.Sms]) sms: Queue,
    private readonly errors: QueueErrorLog,
    private readonly config: AppConfig,
  ) {
    super();
    this.queues = { [Channel.Email]: email, [Channel.Sms]: sms };
  }

  async onModuleInit(): Promise<void> {
    for (const channel of [Channel.Email, Channel.Sms]) {
      const queue = this.queues[channel];
      queue.on('error', (error) => this.errors.report(queue.name, error));
      // A worker-only process produces nothing, so it need not follow every job's completion.
      if (this.config.queue.role === 'worker') continue;
      const events = new QueueEvents(queue.name, { connection: queue.opts.connection, prefix: queue.opts.prefix });
      events.on('error', (error) => this.errors.report(`${queue.name} events`, error));
      events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, returnvalue as unknown as DeliveryOutcome));
      events.on('failed', ({ jobId, failedReason }) => this.fail(jobId, failedReason));
      this.events.set(channel, events);
    }
    const clients = [...Object.values(this.queues), ...this.events.values()];
    // Boot stops on a refusal or a timeout, and no shutdown hook will run: close the connections that would keep retrying.
    const stopBoot = async (reason: string): Promise<never> => {
      const closing = Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      await Promise.race([closing, sleep(1_000, undefined, { ref: false })]);
      throw new Error(`${reason} (deliveries go through it when REDIS_URL is set; unset REDIS_URL to deliver in-process)`);
    };
    const url = this.config.redis.url ?? '';
    await checkRedisAccepts(url, BOOT_WAIT_MS).catch((error: Error) => stopBoot(error.message));
    const ready = Promise.all(clients.map((client) => client.waitUntilReady()));
    const timedOut = sleep(BOOT_WAIT_MS, 'timeout' as const, { ref: false });
    if ((await Promise.race([ready, timedOut])) === 'timeout') {
      await stopBoot(`REDIS_URL ${redactedRedisUrl(url)}: Redis did not answer within ${BOOT_WAIT_MS / 1000} s`);
    }
    await this.applyRateLimits();
    this.watchdog = setInterval(() => void this.checkPending(), WATCHDOG_INTERVAL_MS).unref();
  }

  /**
   * After AppShutdown gave the deliveries their grace: a caller still waiting gets an error rather than waiting
   * forever (its message, if a worker holds it, ends in a known state all the same).
   */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.watchdog);
    for (const [jobId, pending] of this.pending) {
      this.pending.delete(jobId);
      pending.reject(new Error('the service shut down before the delivery reported back'));
    }
    const closing = Promise.all([...this.events.values()].map((events) => events.close().catch(() => undefined)));
    await Promise.race([closing, sleep(2_000, undefined, { ref: false })]);
  }

  /** The queue a channel's deliveries go to (the queue gauge and the workers' provider-wide waits use it too). */
  queue(channel: Channel): Queue {
    return this.queues[channel];
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
    const { channel, signal } = request;
    // Campaign requests come with their message id (derived from the run and the customer); others get one here.
    const messageId = request.messageId ?? randomUUID();
    if (signal?.aborted) return notProcessed();
    const data = toJobData(request);
    const outcome = new Promise<DeliveryOutcome>((resolve, reject) => {
      this.pending.set(messageId, { channel, data, addedAt: Date.now(), resolve, reject });
    });
    const onAbort = () => void this.withdraw(messageId);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.add(channel, messageId, data);
      return await outcome;
    } catch (error) {
      this.pending.delete(messageId);
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Nothing runs here: the workers settle their own deliveries at shutdown. */
  settleInFlight(): Promise<number> {
    return Promise.resolve(0);
  }

  /** Jobs are removed once they finish, so a job that exists is waiting, delayed for a retry, or being delivered. */
  async jobsInQueue(messages: readonly StaleQueued[]): Promise<Set<string>> {
    const exists = await this.existing(messages.map(({ id, channel }) => [id, channel]));
    return new Set(messages.filter((_, index) => exists[index]).map(({ id }) => id));
  }

  async findJob(id: string): Promise<WaitingJob | null> {
    for (const channel of [Channel.Email, Channel.Sms]) {
      const job = (await this.queues[channel].getJob(id)) as Job<DeliveryJobData> | undefined;
      if (job) return { id, channel, customerId: job.data.request.customer.id, enqueuedAt: new Date(job.data.enqueuedAt) };
    }
    return null;
  }

  /** One round trip: does each job's hash still exist? (An error answers true: nothing is done about it.) */
  private async existing(jobs: [string, Channel][]): Promise<boolean[]> {
    // BullMQ's client is ioredis (its connection options come from redisConnection()).
    const client = (await this.queues[Channel.Email].client) as unknown as Redis;
    const pipeline = client.pipeline();
    for (const [jobId, channel] of jobs) pipeline.exists(this.queues[channel].toKey(jobId));
    const replies = (await pipeline.exec()) ?? [];
    return jobs.map((_, index) => {
      const [error, count] = replies[index] ?? [null, 1];
      return Boolean(error) || count !== 0;
    });
  }

  private add(channel: Channel, messageId: string, data: DeliveryJobData): Promise<Job> {
    return this.queues[channel].add(DELIVERY_JOB_NAME, data, { ...DELIVERY_JOB_OPTIONS, jobId: messageId });
  }

  private settle(jobId: string, outcome: DeliveryOutcome): void {
    const pending = this.pending.get(jobId);
    if (!pending) return;
    this.pending.delete(jobId);
    pending.resolve(outcome);
  }

  private fail(jobId: string, reason: string): void {
    const pending = this.pending.get(jobId);
    if (!pending) return;
    this.pending.delete(jobId);
    pending.reject(new Error(reason || 'the delivery job failed'));
  }

  /** The caller stopped: a job still waiting is taken back; one a worker holds finishes and answers as usual. */
  private async withdraw(jobId: string): Promise<void> {
    const pending = this.pending.get(jobId);
    if (!pending) return;
    try {
      // remove() refuses (answers 0) a job a worker holds: its outcome still arrives.
      const removed = await this.queues[pending.channel].remove(jobId);
      if (removed === 1 && this.pending.get(jobId) === pending) {
        this.pending.delete(jobId);
        pending.resolve(notProcessed());
      }
    } catch (error) {
      this.logger.debug(`Job ${jobId} could not be withdrawn (${error instanceof Error ? error.message : error}); waiting for it`);
    }
  }

  /**
   * A job we wait for that no longer exists and never reported back: Redis lost it (restarted without its data)
   * or the completion event was trimmed while we were disconnected. Adding it again is safe: the worker's claim
   * finds the message's row (same id) and answers from its state, so nothing is sent twice.
   */
  private async checkPending(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const due = [...this.pending.entries()].filter(([, p]) => Date.now() - p.addedAt >= WATCHDOG_INTERVAL_MS);
      if (due.length === 0) return;
      const exists = await this.existing(due.map(([jobId, pending]) => [jobId, pending.channel]));
      for (const [index, [jobId, pending]] of due.entries()) {
        if (exists[index] || this.pending.get(jobId) !== pending) continue;
        this.logger.warn(`Job ${jobId} is missing from Redis and never reported back: adding it again`);
        pending.addedAt = Date.now();
        await this.add(pending.channel, jobId, pending.data);
      }
    } catch (error) {
      this.errors.report('watchdog', error as Error);
    } finally {
      this.checking = false;
    }
  }

  /**
   * EMAIL_RATE_LIMIT_PER_SECOND / SMS_RATE_LIMIT_PER_SECOND as BullMQ's global rate limit, kept in Redis so
   * every worker shares it; applied at boot and again whenever Redis comes back (it may have lost it).
   */
  private async applyRateLimits(): Promise<void> {
    const apply = async () => {
      for (const channel of [Channel.Email, Channel.Sms]) {
        const perSecond = this.config.queue.ratePerSecond[channel === Channel.Email ? 'email' : 'sms'];
        const queue = this.queues[channel];
        // 0 (no limit) still sets one, too high to bite: BullMQ's manual rate limit, which a throttling provider
        // triggers for every worker, only takes effect on a queue that has a limit.
        const { max, durationMs } = rateLimitWindow(perSecond > 0 ? perSecond : NO_RATE_LIMIT);
        await queue.setGlobalRateLimit(max, durationMs);
      }
    };
    await apply();
    const client = await this.queues[Channel.Email].client;
    client.on('ready', () => void apply().catch((error: Error) => this.errors.report('rate limits', error)));
  }
}

/**
 * BullMQ counts jobs per fixed window, so a burst at the end of one window and the start of the next can pass
 * up to one window's worth over the rate. Short windows (about 20 a second) keep that to about 1% over any
 * 10 s, where one-second windows allow 10%.
 */
export function rateLimitWindow(perSecond: number): { max: number; durationMs: number } {
  const max = Math.max(1, Math.ceil(perSecond / 20));
  return { max, durationMs: Math.max(1, Math.round((1_000 * max) / perSecond)) };
}

function notProcessed(): DeliveryOutcome {
  return { status: 'skipped', reason: SkipReason.ShuttingDown };
}
