import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Channel } from '../src/messaging/message.types';
import { Metric } from '../src/metrics/metric-names';
import { deleteKeys, RedisMemorySampler } from './redis-memory';
import { histogramQuantile, sumCounter, sumHistogramBuckets, WorkerProcess } from './worker-process';

/** What one queue-mode campaign cost besides the producer: Redis, the workers' latency, RSS and CPU. */
export interface QueueFigures {
  workers: number;
  redisPeakMb: number;
  /** Peak minus used_memory just before the campaign: what the run added (Redis is shared). */
  redisAddedMb: number;
  /** From the workers' ai_delivery_queue_latency_seconds buckets, summed: bucket resolution, not exact. */
  p99EnqueueToSentMs: number | null;
  latencyObservations: number;
  /** ai_delivery_attempts_total over every worker, by outcome. */
  attempts: Record<string, number>;
  /** VmHWM of each worker at the end of the run. */
  workerPeakRssMb: number[];
  /** CPU of all the workers together during the campaign. */
  workerCpuMs: number;
}

/**
 * The worker side of a queue-mode campaign: K worker processes on a fresh Redis key prefix, Redis memory
 * sampled every 250 ms while the campaign runs, and the workers' metrics read at the end. `close()` stops the
 * workers (SIGTERM) and deletes every key under the prefix.
 */
export class QueueRun {
  readonly keyPrefix = `bench-${randomBytes(4).toString('hex')}:`;
  private readonly redis: Redis;
  private readonly sampler: RedisMemorySampler;
  private workers: WorkerProcess[] = [];
  private cpuBefore = 0;

  constructor(
    readonly redisUrl: string,
    private readonly count: number,
  ) {
    this.redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
    this.sampler = new RedisMemorySampler(this.redis);
  }

  /** Starts the workers with the given service environment, and waits for each one's /health to answer 200. */
  async start(env: Record<string, string>, workerConcurrency: number, nodeArgs: string[] = []): Promise<void> {
    await this.redis.connect();
    const workerEnv = { ...env, REDIS_URL: this.redisUrl, REDIS_KEY_PREFIX: this.keyPrefix, WORKER_CONCURRENCY: String(workerConcurrency) };
    const started = await Promise.allSettled(Array.from({ length: this.count }, () => WorkerProcess.start(workerEnv, nodeArgs)));
    this.workers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  get pids(): number[] {
    return this.workers.map((worker) => worker.pid);
  }

  async beginCampaign(): Promise<void> {
    this.cpuBefore = this.workerCpuMs();
    await this.sampler.start();
  }

  async endCampaign(): Promise<QueueFigures> {
    const workerCpuMs = this.workerCpuMs() - this.cpuBefore;
    await this.sampler.stop();
    const scrapes = await Promise.all(this.workers.map((worker) => worker.metrics()));
    const buckets = sumHistogramBuckets(scrapes, Metric.DeliveryQueueLatency, { channel: Channel.Email });
    const p99 = histogramQuantile(0.99, buckets);
    const attempts: Record<string, number> = {};
    for (const outcome of ['sent', 'retry', 'failed', 'unknown']) {
      attempts[outcome] = sumCounter(scrapes, Metric.DeliveryAttempts, { channel: Channel.Email, outcome });
    }
    return {
      workers: this.count,
      redisPeakMb: this.sampler.peakMb,
      redisAddedMb: this.sampler.addedMb,
      p99EnqueueToSentMs: p99 === null ? null : p99 * 1000,
      latencyObservations: buckets.get(Infinity) ?? 0,
      attempts,
      workerPeakRssMb: this.workers.map((worker) => worker.peakRssMb()),
      workerCpuMs,
    };
  }

  /** Stops the workers and deletes this run's keys; safe to call after a failed start. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop()));
    if (this.redis.status === 'ready') {
      const deleted = await deleteKeys(this.redis, this.keyPrefix);
      console.log(`  Redis: deleted the run's ${deleted} keys under ${this.keyPrefix}`);
    }
    this.redis.disconnect();
  }

  private workerCpuMs(): number {
    return this.workers.reduce((sum, worker) => sum + worker.cpuMs(), 0);
  }
}
