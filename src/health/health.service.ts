import { Injectable } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService, HealthIndicatorResult, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { CachedCheck, EXTERNAL_CHECK_MAX_AGE_MS, INTERNAL_CHECK_MAX_AGE_MS } from './cached-check';
import { HEALTH_TIMEOUT_MS } from './health-timeout';
import { LlmHealthIndicator } from './llm.health';
import { RedisHealthIndicator } from './redis.health';
import { SmtpHealthIndicator } from './smtp.health';

type Check = (key: string) => Promise<HealthIndicatorResult>;

/** The database always; SMTP, the LLM API and Redis only when they are configured. */
@Injectable()
export class HealthService {
  private readonly cached = new Map<string, CachedCheck<HealthIndicatorResult>>();

  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly smtp: SmtpHealthIndicator,
    private readonly llm: LlmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  /** Resolves when every check is up; rejects with terminus's ServiceUnavailableException otherwise. */
  check(): Promise<HealthCheckResult> {
    return this.health.check(Object.entries(this.checks()).map(([key, check]) => () => check(key)));
  }

  /** Whether each configured check is up; never rejects, and logs nothing, since every scrape asks. */
  async upByCheck(): Promise<Map<string, boolean>> {
    const results = await Promise.all(
      Object.entries(this.checks()).map(async ([key, check]): Promise<[string, boolean]> => {
        try {
          return [key, (await check(key))[key]?.status === 'up'];
        } catch {
          return [key, false];
        }
      }),
    );
    return new Map(results);
  }

  private checks(): Record<string, Check> {
    const checks: Record<string, Check> = {
      database: this.cachedCheck('database', INTERNAL_CHECK_MAX_AGE_MS, (key) => this.database.pingCheck(key, { timeout: HEALTH_TIMEOUT_MS })),
    };
    if (this.smtp.configured) checks.smtp = this.cachedCheck('smtp', EXTERNAL_CHECK_MAX_AGE_MS, (key) => this.smtp.check(key));
    // Caches its call to the provider itself, so the circuit breaker's state it reports stays current.
    if (this.llm.configured) checks.llm = (key) => this.llm.check(key);
    if (this.redis.configured) checks.redis = this.cachedCheck('redis', INTERNAL_CHECK_MAX_AGE_MS, (key) => this.redis.check(key));
    return checks;
  }

  private cachedCheck(key: string, maxAgeMs: number, check: Check): Check {
    let cached = this.cached.get(key);
    if (!cached) this.cached.set(key, (cached = new CachedCheck(() => check(key), maxAgeMs)));
    return () => cached.get();
  }
}
