import Redis from 'ioredis';

const MB = 1024 * 1024;

/**
 * Samples Redis's `used_memory` (INFO memory) on a timer during a queue-mode run. Redis is shared with other
 * work on this machine, so the value before the run is kept too: the peak minus it is what the run added.
 */
export class RedisMemorySampler {
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> = Promise.resolve();
  baselineBytes = 0;
  peakBytes = 0;

  constructor(
    private readonly redis: Redis,
    private readonly intervalMs = 250,
  ) {}

  async start(): Promise<void> {
    this.baselineBytes = await this.usedMemory();
    this.peakBytes = this.baselineBytes;
    this.timer = setInterval(() => {
      // One INFO at a time: a slow answer must not pile requests up.
      this.sampling = this.sampling.then(() => this.sample());
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sampling;
    await this.sample();
  }

  get peakMb(): number {
    return this.peakBytes / MB;
  }

  get addedMb(): number {
    return (this.peakBytes - this.baselineBytes) / MB;
  }

  private async sample(): Promise<void> {
    try {
      const used = await this.usedMemory();
      if (used > this.peakBytes) this.peakBytes = used;
    } catch {
      // A missed sample only makes the peak less certain; the run itself reports Redis errors.
    }
  }

  private async usedMemory(): Promise<number> {
    const info = await this.redis.info('memory');
    return Number(/^used_memory:(\d+)/m.exec(info)![1]);
  }
}

/** Deletes every key under `prefix` (the bench's own, never anyone else's), in batches. Returns how many. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  if (!/^bench-[a-z0-9-]+:$/.test(prefix)) throw new Error(`refusing to delete keys under ${prefix}: not a bench prefix`);
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
