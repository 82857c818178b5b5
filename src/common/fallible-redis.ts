import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/** Longest boot waits for Redis, and a connection attempt may take. */
const CONNECT_WAIT_MS = 2_000;

/** What the owner logs when Redis goes away (with the error) and when it is back. */
export interface FallibleRedisLines {
  down: string;
  back: string;
}

/**
 * A Redis client for state that has a stand-in in this process (rate-limit counts, the LLM budget): while Redis
 * is unreachable, commands fail at once (no offline queue, no retries) and a hung server is bounded at 500 ms, so
 * the caller falls back to its own memory instead of stalling a request or a draft. One line is logged when Redis
 * goes away and one when it is back, however often ioredis retries meanwhile.
 */
export class FallibleRedis {
  readonly client: Redis;
  private failing = false;

  constructor(
    url: string,
    keyPrefix: string,
    private readonly logger: Logger,
    private readonly lines: FallibleRedisLines,
  ) {
    this.client = new Redis(url, {
      keyPrefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      connectTimeout: CONNECT_WAIT_MS,
    });
    this.client.on('error', (error: Error) => this.down(error));
    this.client.on('ready', () => {
      if (this.failing) this.logger.log(this.lines.back);
      this.failing = false;
    });
  }

  /** Waits for the first connection attempt, at most 2 s: the first callers after boot already share the state. */
  async connected(): Promise<void> {
    const redis = this.client;
    if (redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done).off('error', done);
        resolve();
      };
      const timer = setTimeout(done, CONNECT_WAIT_MS);
      redis.once('ready', done).once('error', done);
    });
  }

  /** `use` on Redis while it is connected; the stand-in while it is not, or when the command fails. */
  async run<T>(use: (redis: Redis) => Promise<T>, standIn: () => Promise<T>): Promise<T> {
    if (this.client.status === 'ready') {
      try {
        return await use(this.client);
      } catch (error) {
        this.down(error as Error);
      }
    }
    return standIn();
  }

  disconnect(): void {
    this.client.disconnect();
  }

  private down(error: Error): void {
    if (this.failing) return;
    this.failing = true;
    this.logger.warn(`${this.lines.down}: ${error.message}`);
  }
}
