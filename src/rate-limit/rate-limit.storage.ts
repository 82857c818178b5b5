import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import Redis from 'ioredis';

type StorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Longest boot waits for Redis, and a connection attempt may take. */
const CONNECT_WAIT_MS = 2_000;

/**
 * Request counts for the public routes' limits: in Redis when REDIS_URL is set, so every instance shares one
 * budget per client; in this process's memory otherwise. While Redis is unreachable each instance counts
 * alone instead of failing or stalling requests: a limit is protection, not a reason to refuse a customer.
 */
export class RateLimitStorage implements ThrottlerStorage, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly memory = new ThrottlerStorageService();
  private readonly redis?: Redis;
  private readonly shared?: ThrottlerStorageRedisService;
  private redisFailing = false;

  constructor(redis: { url?: string; keyPrefix: string }) {
    if (!redis.url) return;
    this.redis = new Redis(redis.url, {
      keyPrefix: `${redis.keyPrefix}throttle:`,
      // Fail at once while disconnected, and bound a hung server: the memory count stands in.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      connectTimeout: CONNECT_WAIT_MS,
    });
    this.redis.on('error', (error: Error) => this.failing(error));
    this.redis.on('ready', () => {
      if (this.redisFailing) this.logger.log('Redis is back: rate limits are shared again');
      this.redisFailing = false;
    });
    this.shared = new ThrottlerStorageRedisService(this.redis);
  }

  /** Boot waits for the first connection attempt, so the first requests already share the budget. */
  async onModuleInit(): Promise<void> {
    const redis = this.redis;
    if (!redis || redis.status === 'ready') return;
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

  async increment(key: string, ttl: number, limit: number, blockDuration: number, name: string): Promise<StorageRecord> {
    if (this.shared && this.redis?.status === 'ready') {
      try {
        return await this.shared.increment(key, ttl, limit, blockDuration, name);
      } catch (error) {
        this.failing(error as Error);
      }
    }
    return this.memory.increment(key, ttl, limit, blockDuration, name);
  }

  onApplicationShutdown(): void {
    this.redis?.disconnect();
    this.memory.onApplicationShutdown();
  }

  /** Logged once per outage; ioredis reports every reconnect attempt. */
  private failing(error: Error): void {
    if (this.redisFailing) return;
    this.redisFailing = true;
    this.logger.warn(`Redis unavailable, rate limits are counted per instance until it is back: ${error.message}`);
  }
}
