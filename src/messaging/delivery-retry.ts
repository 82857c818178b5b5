import { Channel } from './message.types';
import { SmsDeliveryError } from './sms.sender';

/** Whether another attempt may succeed, and how long the provider asked us to wait. */
export interface FailureVerdict {
  transient: boolean;
  /** A gateway's Retry-After, in ms. */
  retryAfterMs?: number;
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

/**
 * Transient: an SMTP 4xx reply (421 service not available, 450/451/452, 454 temporary auth failure), a connection
 * error or timeout, a gateway 429 or 5xx, or no answer from the gateway. Permanent: an SMTP 5xx (550 mailbox
 * unavailable), a gateway 4xx, and anything else (a bug does not get better by retrying).
 */
export function classifyFailure(channel: Channel, error: unknown): FailureVerdict {
  if (channel === Channel.Sms) {
    if (!(error instanceof SmsDeliveryError)) return { transient: false };
    return { transient: error.retryable, retryAfterMs: error.retryAfterMs };
  }
  const { responseCode, code } = (error ?? {}) as { responseCode?: unknown; code?: unknown };
  if (typeof responseCode === 'number') return { transient: responseCode >= 400 && responseCode < 500 };
  return { transient: typeof code === 'string' && CONNECTION_CODES.has(code) };
}

/**
 * Wait before attempt `attempt + 1`: base × 2^(attempt-1), from half to all of it at random (jitter, so a
 * provider that came back is not hit by every sender at once); a longer Retry-After wins.
 */
export function retryDelayMs(attempt: number, baseMs: number, retryAfterMs = 0, random = Math.random): number {
  const exponential = baseMs * 2 ** (attempt - 1);
  return Math.max(Math.round(exponential * (0.5 + random() / 2)), retryAfterMs);
}
