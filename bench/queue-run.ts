import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Channel } from '../src/messaging/message.types';
import { Metric } from '../src/metrics/metric-names';
import { summariseProfile } from './cpu-profile';
import { deleteKeys, RedisMemorySampler } from './redis-memory';
import { histogramQuantile, processCpuMs, sumCounter, sumHistogramBuckets, WorkerProcess } from './worker-process';

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
  /** CPU of redis-server during the campaign (null when it is not a local process); Redis is shared. */
  redisCpuMs: number | null;
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
  private redisPid: number | null = null;
  private redisCpuBefore: number | null = null;
  private profileDir: string | null = null;

  constructor(
    readonly redisUrl: string,
    private readonly count: number,
  ) {
    this.redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
    this.sampler = new RedisMemorySampler(this.redis);
  }

  /**
   * Starts the workers with the given service environment, and waits for each one's /health to answer 200.
   * With `profileDir`, each runs with --cpu-prof and its profile (boot to exit) is summarised at close().
   */
  async start(env: Record<string, string>, workerConcurrency: number, profileDir: string | null = null): Promise<void> {
    this.profileDir = profileDir;
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '-r', join(__dirname, 'profile-exit.js')] : [];
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
    const server = await this.redis.info('server');
    this.redisPid = Number(/^process_id:(\d+)/m.exec(server)?.[1] ?? NaN) || null;
    this.redisCpuBefore = this.redisCpuMs();
    this.cpuBefore = this.workerCpuMs();
    await this.sampler.start();
  }

  async endCampaign(): Promise<QueueFigures> {
    const workerCpuMs = this.workerCpuMs() - this.cpuBefore;
    const redisCpuAfter = this.redisCpuMs();
    const redisCpuMs = redisCpuAfter === null || this.redisCpuBefore === null ? null : redisCpuAfter - this.redisCpuBefore;
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
      redisCpuMs,
    };
  }

  /** Stops the workers and deletes this run's keys; safe to call after a failed start. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop()));
    if (this.profileDir) this.printProfiles(this.profileDir);
    if (this.redis.status === 'ready') {
      const deleted = await deleteKeys(this.redis, this.keyPrefix);
      console.log(`  Redis: deleted the run's ${deleted} keys under ${this.keyPrefix}`);
    }
    this.redis.disconnect();
  }

  private printProfiles(dir: string): void {
    for (const pid of this.pids) {
      // --cpu-prof names the file CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
      const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid));
      if (!file) {
        console.log(`  worker ${pid}: no CPU profile in ${dir}`);
        continue;
      }
      console.log(`CPU profile of worker ${pid} (boot to exit) in ${join(dir, file)}`);
      summariseProfile(JSON.parse(readFileSync(join(dir, file), 'utf8'))).forEach((line) => console.log(line));
    }
  }

  /** redis-server's CPU so far, when it runs on this machine (its process_id is one of ours to read). */
  private redisCpuMs(): number | null {
    if (this.redisPid === null) return null;
    try {
      return processCpuMs(this.redisPid);
    } catch {
      return null;
    }
  }

  private workerCpuMs(): number {
    return this.workers.reduce((sum, worker) => sum + worker.cpuMs(), 0);
  }
}
