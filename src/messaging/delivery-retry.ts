import { Channel } from './message.types';
import { SmsDeliveryError } from './sms.sender';

/** Whether another attempt may succeed, and how long the provider asked us to wait. */
export interface FailureVerdict {
  transient: boolean;
  /** A gateway's Retry-After, in ms. */
  retryAfterMs?: number;
  /**
   * The provider as a whole is unavailable or throttling (SMTP 421/454, a refused connection, a gateway 429 or
   * 5xx), not just this recipient (SMTP 450-452): in queue mode every worker slows down, not just this message.
   */
  providerWide?: boolean;
}

/**
 * Thrown by a delivery told to defer its retries (queue mode): the attempt is recorded and the row is back in
 * `queued`; the caller schedules the next attempt (BullMQ: the job is delayed, or the queue rate-limited).
 */
export class RetryLater extends Error {
  constructor(
    readonly delayMs: number,
    readonly providerWide: boolean,
    reason: string,
  ) {
    super(`retry in ${delayMs} ms: ${reason}`);
    this.name = 'RetryLater';
  }
}

/** Node's and nodemailer's codes for a connection that failed or timed out: the server never took the message. */
const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SMTP 4xx replies about one mailbox (busy, local error, full): other recipients are not affected. */
const RECIPIENT_CODES = new Set([450, 451, 452]);

/**
 * Transient: an SMTP 4xx reply (421 service not available, 450/451/452, 454 temporary auth failure), a connection
 * error or timeout, a gateway 429 or 5xx, or no answer from the gateway. Permanent: an SMTP 5xx (550 mailbox
 * unavailable), a gateway 4xx, and anything else (a bug does not get better by retrying).
 */
export function classifyFailure(channel: Channel, error: unknown): FailureVerdict {
  if (channel === Channel.Sms) {
    if (!(error instanceof SmsDeliveryError)) return { transient: false };
    return { transient: error.retryable, retryAfterMs: error.retryAfterMs, providerWide: error.retryable };
  }
  const { responseCode, code } = (error ?? {}) as { responseCode?: unknown; code?: unknown };
  if (typeof responseCode === 'number') {
    const transient = responseCode >= 400 && responseCode < 500;
    return { transient, providerWide: transient && !RECIPIENT_CODES.has(responseCode) };
  }
  const connection = typeof code === 'string' && CONNECTION_CODES.has(code);
  return { transient: connection, providerWide: connection };
}

/**
 * Wait before attempt `attempt + 1`: base × 2^(attempt-1), from half to all of it at random (jitter, so a
 * provider that came back is not hit by every sender at once); a longer Retry-After wins.
 */
export function retryDelayMs(attempt: number, baseMs: number, retryAfterMs = 0, random = Math.random): number {
  const exponential = baseMs * 2 ** (attempt - 1);
  return Math.max(Math.round(exponential * (0.5 + random() / 2)), retryAfterMs);
}
