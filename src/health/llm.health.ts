import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { CircuitSnapshot } from '../messaging/circuit-breaker';
import { LlmCircuitBreaker } from '../messaging/llm-circuit-breaker';
import { CachedCheck, EXTERNAL_CHECK_MAX_AGE_MS } from './cached-check';
import { HEALTH_TIMEOUT_MS } from './health-timeout';
import { errorMessageWithCause, errorName, redact } from './redact';

const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/**
 * Can we reach the OpenAI-compatible API with our key? `GET {base}/models` answering 2xx means yes.
 * The details also carry the circuit breaker's state. An open circuit alone does not turn the check
 * down: drafts then come from the template at full speed, so the service is ready, and a readiness
 * probe that failed on it would take every replica out at once for a provider outage already contained.
 */
type ModelsAnswer = { up: true } | { up: false; message: string; statusCode?: number };

@Injectable()
export class LlmHealthIndicator {
  private readonly models = new CachedCheck(() => this.askModels(), EXTERNAL_CHECK_MAX_AGE_MS);

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
    private readonly breaker: LlmCircuitBreaker,
  ) {}

  /** Checked only when OPENAI_API_KEY is set; without it messages come from the template. */
  get configured(): boolean {
    return Boolean(this.config.openai.apiKey);
  }

  async check(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const answer = await this.models.get();
    const circuit = circuitDetails(this.breaker.snapshot());
    if (answer.up) return indicator.up({ circuit });
    const { message, statusCode } = answer;
    return indicator.down({ message, ...(statusCode !== undefined && { statusCode }), circuit });
  }

  private async askModels(): Promise<ModelsAnswer> {
    const { apiKey = '', baseUrl } = this.config.openai;
    const base = (baseUrl ?? DEFAULT_OPENAI_BASE_URL).replace(/\/+$/, '');
    try {
      const response = await fetch(`${base}/models`, {
        headers: { Authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.ok) return { up: true };
      return { up: false, message: `models endpoint answered ${response.status}`, statusCode: response.status };
    } catch (error) {
      return { up: false, message: redact(describe(error), [apiKey]) };
    }
  }
}

function circuitDetails({ state, consecutiveFailures, retryAt }: CircuitSnapshot) {
  return { state, consecutiveFailures, ...(retryAt && { retryAt: retryAt.toISOString() }) };
}

function describe(error: unknown): string {
  const name = errorName(error);
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${HEALTH_TIMEOUT_MS} ms`;
  return errorMessageWithCause(error);
}
