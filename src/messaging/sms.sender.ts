import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppConfig } from '../config/app-config';
import { countSmsSegments, SmsSegmentCount } from './sms-segments';

/** Longest wait a gateway's Retry-After header may impose before the next attempt. */
export const MAX_RETRY_AFTER_MS = 30_000;

export interface OutgoingSms {
  messageId: string;
  /** Recipient number as the gateway expects it, e.g. +8801712345678. */
  to: string;
  text: string;
}

export interface SmsReceipt {
  /** The gateway's id for the SMS, or `outbox:<messageId>` when it went to the local outbox. */
  providerMessageId: string;
  segments: number;
  /** Where the SMS was written, when it went to the local outbox. */
  outboxPath?: string;
}

/**
 * The gateway refused the SMS or could not be reached; `status` is its HTTP status when it answered. Retryable
 * for 429, 5xx and no answer: the same message id goes as the Idempotency-Key, so the gateway drops a repeat.
 */
export class SmsDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** The gateway's Retry-After, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SmsDeliveryError';
  }
}

/**
 * Sends SMS through an HTTP JSON gateway when SMS_GATEWAY_URL is set, otherwise writes each one
 * to the outbox folder as JSON. Never logs the API key or the message text.
 */
@Injectable()
export class SmsSender implements OnModuleInit {
  private readonly logger = new Logger(SmsSender.name);
  private readonly outboxDir: string | null;

  constructor(private readonly config: AppConfig) {
    this.outboxDir = config.sms.gatewayUrl ? null : resolve(config.mail.outboxDir, 'sms');
  }

  get usesGateway(): boolean {
    return this.outboxDir === null;
  }

  async onModuleInit(): Promise<void> {
    if (this.outboxDir) {
      await mkdir(this.outboxDir, { recursive: true });
      this.logger.log(`SMS_GATEWAY_URL is not set: SMS are written to the outbox ${this.outboxDir}`);
    }
  }

  async send(sms: OutgoingSms): Promise<SmsReceipt> {
    const count = countSmsSegments(sms.text);
    if (this.outboxDir) return this.writeToOutbox(this.outboxDir, sms, count);

    const providerMessageId = await this.postToGateway(sms);
    this.logger.log({
      msg: `SMS accepted by the gateway (${count.segments} part(s))`,
      messageId: sms.messageId,
      providerMessageId,
      segments: count.segments,
    });
    return { providerMessageId, segments: count.segments };
  }

  private async writeToOutbox(dir: string, sms: OutgoingSms, count: SmsSegmentCount): Promise<SmsReceipt> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const outboxPath = resolve(dir, `${stamp}-${sms.messageId.replace(/[^\w-]/g, '_')}.json`);
    const record = {
      to: sms.to,
      from: this.config.sms.senderId,
      text: sms.text,
      segments: count.segments,
      encoding: count.encoding,
      message_id: sms.messageId,
    };
    await writeFile(outboxPath, `${JSON.stringify(record, null, 2)}\n`);
    this.logger.log({ msg: `SMS written to ${outboxPath}`, messageId: sms.messageId });
    return { providerMessageId: `outbox:${sms.messageId}`, segments: count.segments, outboxPath };
  }

  /** Posts once; returns the gateway's id. Retries are the delivery's (see delivery-retry.ts). */
  private async postToGateway(sms: OutgoingSms): Promise<string> {
    const { gatewayUrl, apiKey, senderId, timeoutMs } = this.config.sms;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      // Lets the gateway drop a retried request it already accepted.
      'Idempotency-Key': sms.messageId,
    };
    if (apiKey) headers['X-API-Key'] = apiKey;
    const failed = (reason: string, retryable: boolean, status?: number, retryAfterMs?: number) =>
      new SmsDeliveryError(`SMS ${sms.messageId} failed: gateway ${reason}`, retryable, status, retryAfterMs);

    let response: Response;
    try {
      response = await fetch(gatewayUrl as string, {
        method: 'POST',
        headers,
        body: JSON.stringify({ to: sms.to, from: senderId, text: sms.text, reference: sms.messageId }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw failed(describeNetworkError(error, timeoutMs), true);
    }

    const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    if (response.ok) {
      const providerMessageId = providerIdOf(await response.json().catch(() => null));
      if (providerMessageId) return providerMessageId;
      // The gateway may have taken the SMS, and gave no id to tell: not retried.
      throw failed(`answered ${status} without a message id`, false, response.status);
    }

    // Release the connection; the error body is not needed.
    await response.body?.cancel().catch(() => undefined);
    const retryable = response.status === 429 || response.status >= 500;
    throw failed(`answered ${status}`, retryable, response.status, parseRetryAfter(response.headers.get('retry-after')));
  }
}

function providerIdOf(body: unknown): string | null {
  if (!body || typeof body !== 'object') return null;
  const record = body as Record<string, unknown>;
  const id = record.id ?? record.message_id ?? record.messageId;
  return (typeof id === 'string' && id !== '') || typeof id === 'number' ? String(id) : null;
}

/** Retry-After in delta-seconds or as an HTTP date, in ms capped at MAX_RETRY_AFTER_MS; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const value = header.trim();
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  // Checked by shape: the timeout's DOMException need not pass instanceof Error (e.g. under Jest's VM realm).
  const { name, message, cause } = (error ?? {}) as { name?: unknown; message?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof message === 'string' ? message : '';
  return detail ? `request failed: ${detail}` : 'request failed';
}
