import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { createTransport, Transporter } from 'nodemailer';
import { AppConfig } from '../config/app-config';
import { smtpConnectionOptions } from '../config/smtp-url';
import { HEALTH_TIMEOUT_MS, withTimeout } from './health-timeout';
import { errorMessage, redact } from './redact';

/**
 * Can we reach the SMTP server and log in? Verified on a fresh, unpooled connection from SMTP_URL so a
 * stale pooled connection can neither hide nor fake an outage.
 */
@Injectable()
export class SmtpHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
  ) {}

  /** Checked only when SMTP_URL is set; without it mail goes to the outbox directory. */
  get configured(): boolean {
    return Boolean(this.config.mail.smtpUrl);
  }

  async check(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const smtpUrl = this.config.mail.smtpUrl ?? '';
    const secrets = [smtpUrl];
    let transport: Transporter | undefined;
    try {
      const url = new URL(smtpUrl);
      secrets.push(url.password, safeDecode(url.password));
      url.searchParams.delete('pool');
      for (const option of ['connectionTimeout', 'greetingTimeout', 'socketTimeout']) {
        url.searchParams.set(option, String(HEALTH_TIMEOUT_MS));
      }
      transport = createTransport(smtpConnectionOptions(url.toString()));
      await withTimeout(transport.verify(), 'SMTP verify');
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: redact(errorMessage(error), secrets) });
    } finally {
      transport?.close();
    }
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
