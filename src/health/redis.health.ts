import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { HEALTH_TIMEOUT_MS, withTimeout } from './health-timeout';
import { errorMessage, redact } from './redact';

/**
 * Does Redis answer PING? On a connection of its own that fails fast while Redis is down, so the check reports
 * the outage instead of waiting for it to end as the queue's connections do.
 */
@Injectable()
export class RedisHealthIndicator implements OnModuleDestroy {
  private client?: Redis;
  private lastError = 'no answer yet';

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
  ) {}

  /** Checked only when REDIS_URL is set. */
  get configured(): boolean {
    return Boolean(this.config.redis.url);
  }

  async check(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const url = this.config.redis.url ?? '';
    try {
      this.client ??= this.connect(url);
      // Between reconnect attempts the outage is known: say so without waiting for the next attempt.
      if (this.client.status === 'reconnecting' || this.client.status === 'end') throw new Error('not connected');
      await withTimeout(this.client.ping(), 'Redis PING');
      return indicator.up();
    } catch (error) {
      const message = this.client?.status === 'ready' ? errorMessage(error) : `not connected (${this.lastError})`;
      return indicator.down({ message: redact(message, [url, safePassword(url)]) });
    }
  }

  onModuleDestroy(): void {
    this.client?.disconnect();
  }

  private connect(url: string): Redis {
    const client = new Redis(url, {
      // A PING sent while connecting waits for the connection (bounded by the check's timeout).
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      connectTimeout: HEALTH_TIMEOUT_MS,
      retryStrategy: () => 1_000,
    });
    // Reported by check(), not as an unhandled event.
    client.on('error', (error: Error) => (this.lastError = error.message));
    return client;
  }
}

function safePassword(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}
