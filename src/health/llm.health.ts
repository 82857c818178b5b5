import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { HEALTH_TIMEOUT_MS } from './health-timeout';
import { errorMessageWithCause, errorName, redact } from './redact';

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** Can we reach the OpenAI-compatible API with our key? `GET {base}/models` answering 2xx means yes. */
@Injectable()
export class LlmHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
  ) {}

  /** Checked only when OPENAI_API_KEY is set; without it messages come from the template. */
  get configured(): boolean {
    return Boolean(this.config.openai.apiKey);
  }

  async check(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const { apiKey = '', baseUrl } = this.config.openai;
    const base = (baseUrl ?? DEFAULT_OPENAI_BASE_URL).replace(/\/+$/, '');
    try {
      const response = await fetch(`${base}/models`, {
        headers: { Authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.ok) return indicator.up();
      return indicator.down({ message: `models endpoint answered ${response.status}`, statusCode: response.status });
    } catch (error) {
      return indicator.down({ message: redact(describe(error), [apiKey]) });
    }
  }
}

function describe(error: unknown): string {
  const name = errorName(error);
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${HEALTH_TIMEOUT_MS} ms`;
  return errorMessageWithCause(error);
}
