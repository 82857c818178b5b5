import { Injectable } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService, HealthIndicatorFunction, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { HEALTH_TIMEOUT_MS } from './health-timeout';
import { LlmHealthIndicator } from './llm.health';
import { SmtpHealthIndicator } from './smtp.health';

/** The database always; SMTP and the LLM API only when they are configured. */
@Injectable()
export class HealthService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly smtp: SmtpHealthIndicator,
    private readonly llm: LlmHealthIndicator,
  ) {}

  /** Resolves when every check is up; rejects with terminus's ServiceUnavailableException otherwise. */
  check(): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [() => this.database.pingCheck('database', { timeout: HEALTH_TIMEOUT_MS })];
    if (this.smtp.configured) checks.push(() => this.smtp.check('smtp'));
    if (this.llm.configured) checks.push(() => this.llm.check('llm'));
    return this.health.check(checks);
  }
}
