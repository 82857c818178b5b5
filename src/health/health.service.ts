import { Injectable } from '@nestjs/common';
import {
  HealthCheckResult,
  HealthIndicatorResult,
  HealthIndicatorService,
  HealthIndicatorStatus,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { DeliveryWorkers } from '../delivery/delivery.worker';
import { CachedCheck, EXTERNAL_CHECK_MAX_AGE_MS, INTERNAL_CHECK_MAX_AGE_MS } from './cached-check';
import { HEALTH_TIMEOUT_MS } from './health-timeout';
import { LlmHealthIndicator } from './llm.health';
import { RedisHealthIndicator } from './redis.health';
import { SmsGatewayHealthIndicator } from './sms-gateway.health';
import { SmtpHealthIndicator } from './smtp.health';

type Check = (key: string) => Promise<HealthIndicatorResult>;

/**
 * One entry of the report. `required` checks decide readiness: what this replica needs to serve its role.
 * The others are providers with a fallback or a retry (the template, the outbox, the queue's backoff): they are
 * reported, and alerted on through smartengage_health_up, but an outage of theirs never takes a replica out.
 */
interface CheckSpec {
  key: string;
  required: boolean;
  configured: boolean;
  run: Check;
}

/** What `details` says of an optional dependency that is not set up. */
const NOT_CONFIGURED = 'not_configured' as HealthIndicatorStatus;

/**
 * Readiness, and the same checks as a metric: the database always; Redis in queue mode; the queue connection of
 * a process that consumes deliveries; SMTP, the SMS gateway and the LLM API reported when configured.
 */
@Injectable()
export class HealthService {
  private readonly cached = new Map<string, CachedCheck<HealthIndicatorResult>>();

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly smtp: SmtpHealthIndicator,
    private readonly llm: LlmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly smsGateway: SmsGatewayHealthIndicator,
    private readonly workers: DeliveryWorkers,
  ) {}

  /**
   * Terminus's report shape: `info` the checks that are up, `error` those that are down (optional ones too),
   * `details` every check; `status` is `error` only when a required check is down. Never rejects.
   */
  async readiness(): Promise<HealthCheckResult> {
    const info: HealthIndicatorResult = {};
    const error: HealthIndicatorResult = {};
    const details: HealthIndicatorResult = {};
    let ready = true;
    const specs = this.specs();
    const results = await Promise.all(specs.map((spec) => (spec.configured ? this.settle(spec) : undefined)));
    for (const [index, spec] of specs.entries()) {
      const result = results[index]?.[spec.key];
      if (!result) {
        details[spec.key] = { status: NOT_CONFIGURED };
        continue;
      }
      details[spec.key] = result;
      if (result.status === 'up') info[spec.key] = result;
      else {
        error[spec.key] = result;
        if (spec.required) ready = false;
      }
    }
    return { status: ready ? 'ok' : 'error', info, error, details };
  }

  /** Whether each configured check is up; never rejects, and logs nothing, since every scrape asks. */
  async upByCheck(): Promise<Map<string, boolean>> {
    const configured = this.specs().filter((spec) => spec.configured);
    const results = await Promise.all(configured.map(async (spec) => (await this.settle(spec))[spec.key].status === 'up'));
    return new Map(configured.map((spec, index) => [spec.key, results[index]]));
  }

  /** The check's result; one that throws counts as down, with its message. */
  private async settle(spec: CheckSpec): Promise<HealthIndicatorResult> {
    try {
      return await spec.run(spec.key);
    } catch (error) {
      return this.indicators.check(spec.key).down({ message: error instanceof Error ? error.message : String(error) });
    }
  }

  private specs(): CheckSpec[] {
    return [
      {
        key: 'database',
        required: true,
        configured: true,
        run: this.cachedCheck('database', INTERNAL_CHECK_MAX_AGE_MS, (key) => this.database.pingCheck(key, { timeout: HEALTH_TIMEOUT_MS })),
      },
      {
        key: 'redis',
        required: true,
        configured: this.redis.configured,
        run: this.cachedCheck('redis', INTERNAL_CHECK_MAX_AGE_MS, (key) => this.redis.check(key)),
      },
      {
        key: 'queue',
        required: true,
        configured: this.workers.consuming,
        run: this.cachedCheck('queue', INTERNAL_CHECK_MAX_AGE_MS, (key) => this.queueCheck(key)),
      },
      {
        key: 'smtp',
        required: false,
        configured: this.smtp.configured,
        run: this.cachedCheck('smtp', EXTERNAL_CHECK_MAX_AGE_MS, (key) => this.smtp.check(key)),
      },
      {
        key: 'sms_gateway',
        required: false,
        configured: this.smsGateway.configured,
        run: this.cachedCheck('sms_gateway', EXTERNAL_CHECK_MAX_AGE_MS, (key) => this.smsGateway.check(key)),
      },
      // Caches its call to the provider itself, so the circuit breaker's state it reports stays current.
      { key: 'llm', required: false, configured: this.llm.configured, run: (key) => this.llm.check(key) },
    ];
  }

  private async queueCheck(key: string): Promise<HealthIndicatorResult> {
    const problem = await this.workers.queueProblem();
    const indicator = this.indicators.check(key);
    return problem ? indicator.down({ message: problem }) : indicator.up();
  }

  private cachedCheck(key: string, maxAgeMs: number, check: Check): Check {
    let cached = this.cached.get(key);
    if (!cached) this.cached.set(key, (cached = new CachedCheck(() => check(key), maxAgeMs)));
    return () => cached.get();
  }
}
