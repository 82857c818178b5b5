import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { HEALTH_TIMEOUT_MS } from './health-timeout';
import { errorMessageWithCause, errorName, redact } from './redact';

/**
 * Does the SMS gateway answer HTTP? A HEAD on SMS_GATEWAY_URL without the key: any answer below 500 means it is
 * there (a probe must not send an SMS, and gateways differ in what else they offer).
 */
@Injectable()
export class SmsGatewayHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
  ) {}

  /** Checked only when SMS_GATEWAY_URL is set; without it SMS are written to the outbox. */
  get configured(): boolean {
    return Boolean(this.config.sms.gatewayUrl);
  }

  async check(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const { gatewayUrl = '', apiKey } = this.config.sms;
    try {
      const response = await fetch(gatewayUrl, { method: 'HEAD', signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
      await response.body?.cancel();
      if (response.status < 500) return indicator.up();
      return indicator.down({ message: `gateway answered ${response.status}`, statusCode: response.status });
    } catch (error) {
      const name = errorName(error);
      const message = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${HEALTH_TIMEOUT_MS} ms` : errorMessageWithCause(error);
      return indicator.down({ message: redact(message, [apiKey]) });
    }
  }
}
