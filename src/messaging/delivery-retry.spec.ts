import { classifyFailure, retryDelayMs } from './delivery-retry';
import { Channel } from './message.types';
import { SmsDeliveryError } from './sms.sender';

/** An error shaped like nodemailer's: a code, and the SMTP reply code when the server answered. */
const smtpError = (code: string, responseCode?: number) => Object.assign(new Error(`${code} ${responseCode ?? ''}`), { code, responseCode });

describe(classifyFailure.name, () => {
  it.each([
    ['421 service not available', smtpError('EENVELOPE', 421), true],
    ['450 mailbox busy', smtpError('EENVELOPE', 450), false],
    ['451 local error', smtpError('EMESSAGE', 451), false],
    ['452 mailbox full', smtpError('EENVELOPE', 452), false],
    ['454 temporary authentication failure', smtpError('EAUTH', 454), true],
    ['a refused connection', smtpError('ECONNECTION'), true],
    ['a socket error', smtpError('ESOCKET'), true],
    ['a timeout', smtpError('ETIMEDOUT'), true],
    ['a DNS failure', smtpError('EDNS'), true],
  ])('retries email after %s (provider-wide: %s)', (_what, error, providerWide) => {
    expect(classifyFailure(Channel.Email, error)).toEqual({ transient: true, providerWide });
  });

  it.each([
    ['550 mailbox unavailable', smtpError('EENVELOPE', 550)],
    ['554 transaction failed', smtpError('EMESSAGE', 554)],
    ['535 bad credentials', smtpError('EAUTH', 535)],
    ['an envelope nodemailer refused to send', smtpError('EENVELOPE')],
    ['a plain Error (a bug)', new Error('undefined is not a function')],
    ['a non-error', 'boom'],
  ])('fails email at once after %s', (_what, error) => {
    expect(classifyFailure(Channel.Email, error)).toEqual({ transient: false, providerWide: false });
  });

  it('follows the SMS gateway error, with its Retry-After', () => {
    expect(classifyFailure(Channel.Sms, new SmsDeliveryError('429', true, 429, 3000))).toEqual({ transient: true, retryAfterMs: 3000, providerWide: true });
    expect(classifyFailure(Channel.Sms, new SmsDeliveryError('503', true, 503))).toEqual({ transient: true, retryAfterMs: undefined, providerWide: true });
    expect(classifyFailure(Channel.Sms, new SmsDeliveryError('400', false, 400))).toEqual({ transient: false, retryAfterMs: undefined, providerWide: false });
    expect(classifyFailure(Channel.Sms, new Error('EACCES writing the outbox'))).toEqual({ transient: false });
  });
});

describe(retryDelayMs.name, () => {
  it('doubles from the base for each attempt, between half and all of it', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 2000, 0, () => 0))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 2000, 0, () => 1))).toEqual([2000, 4000, 8000, 16000]);
    expect(retryDelayMs(2, 2000, 0, () => 0.5)).toBe(3000);
  });

  it('spreads senders out: delays for the same attempt differ', () => {
    const delays = new Set(Array.from({ length: 20 }, () => retryDelayMs(3, 2000)));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(4000);
      expect(delay).toBeLessThanOrEqual(8000);
    }
  });

  it('waits at least as long as the provider asked', () => {
    expect(retryDelayMs(1, 2000, 30_000, () => 1)).toBe(30_000);
    expect(retryDelayMs(3, 2000, 100, () => 1)).toBe(8000);
  });
});
