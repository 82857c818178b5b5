import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { FallibleRedis } from '../common/fallible-redis';

type StorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Request counts for the public routes' limits: in Redis when REDIS_URL is set, so every instance shares one
 * budget per client; in this process's memory otherwise. While Redis is unreachable each instance counts
 * alone instead of failing or stalling requests: a limit is protection, not a reason to refuse a customer.
 */
export class RateLimitStorage implements ThrottlerStorage, OnModuleInit, OnApplicationShutdown {
  private readonly memory = new ThrottlerStorageService();
  private readonly redis?: FallibleRedis;
  private readonly shared?: ThrottlerStorageRedisService;

  constructor(redis: { url?: string; keyPrefix: string }) {
    if (!redis.url) return;
    this.redis = new FallibleRedis(redis.url, `${redis.keyPrefix}throttle:`, new Logger('RateLimit'), {
      down: 'Redis unavailable, rate limits are counted per instance until it is back',
      back: 'Redis is back: rate limits are shared again',
    });
    this.shared = new ThrottlerStorageRedisService(this.redis.client);
  }

  /** Boot waits for the first connection attempt, so the first requests already share the budget. */
  async onModuleInit(): Promise<void> {
    await this.redis?.connected();
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number, name: string): Promise<StorageRecord> {
    const local = () => this.memory.increment(key, ttl, limit, blockDuration, name);
    const shared = this.shared;
    if (!this.redis || !shared) return local();
    return this.redis.run(() => shared.increment(key, ttl, limit, blockDuration, name), local);
  }

  onApplicationShutdown(): void {
    this.redis?.disconnect();
    this.memory.onApplicationShutdown();
  }
}
