import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { AiMessageRepository, DraftRecord, INTERRUPTED_BEFORE_SENDING } from './ai-message.repository';
import { classifyFailure, RetryLater, retryDelayMs } from './delivery-retry';
import { EmailSender } from './email.sender';
import { DeliveryStatus } from './delivery-status';
import { Channel } from './message.types';
import { MessagingMetrics } from './messaging.metrics';
import { isResumableStop } from './reminder-delivery';
import { SmsSender } from './sms.sender';

/** A drafted message to hand to its channel. */
export interface Dispatch {
  messageId: string;
  channel: Channel;
  recipient: string;
  /** Stored with the `sending` mark; its subject and text are what is sent. */
  draft: DraftRecord;
  /** The HTML body and the unsubscribe link of an email. */
  email?: { html: string; unsubscribeUrl: string };
  /** Hand-overs the row already counts. */
  attempts: number;
  /**
   * The row is already `sending` with this hand-over counted: an SMS whose earlier hand-over was interrupted.
   * The gateway dedupes by Idempotency-Key, so it is sent again; if every retry fails it may still have gone
   * the first time, so it ends `unknown` rather than `failed`.
   */
  resumed?: boolean;
  /**
   * Aborted at shutdown or when the caller stops: no further retry; a message waiting for one is released for
   * the next run, or, for a resumable stop (a paused run), left `queued` for the resume to retry.
   */
  signal?: AbortSignal;
  /**
   * Queue mode: after a transient failure, record the attempt (the row goes back to `queued`) and throw
   * RetryLater instead of waiting here, so the queue schedules the next attempt and holds no worker slot.
   */
  deferRetries?: boolean;
}

export type DispatchResult =
  | { status: 'sent'; providerMessageId: string; outboxPath?: string }
  | { status: 'failed' | 'unknown'; error: string }
  /** The row had left `queued` before the hand-over (the sweeper settled it): nothing was sent. */
  | { status: 'abandoned' }
  /** Stopped while waiting to retry, to be resumed: the row stays `queued` with its attempts. */
  | { status: 'paused' };

/**
 * Hands a drafted message to its channel: marks the row `sending` (durably, before the send), sends, and
 * records the attempt. Transient failures go back to `queued` and are retried after a backoff, up to
 * DELIVERY_MAX_ATTEMPTS; permanent ones fail at once. The row counts the attempts and keeps the last error.
 */
@Injectable()
export class MessageDispatcher {
  private readonly logger = new Logger(MessageDispatcher.name);

  constructor(
    private readonly messages: AiMessageRepository,
    private readonly email: EmailSender,
    private readonly sms: SmsSender,
    private readonly metrics: MessagingMetrics,
    private readonly config: AppConfig,
  ) {}

  async dispatch(message: Dispatch): Promise<DispatchResult> {
    const { maxAttempts, retryBackoffMs } = this.config.delivery;
    const { messageId, channel } = message;
    let attempts = message.attempts;
    let marked = message.resumed ?? false;
    for (;;) {
      if (!marked) {
        if (!(await this.messages.markSending(messageId, message.draft))) return { status: 'abandoned' };
        attempts++;
      }
      marked = false;

      let receipt: { providerMessageId: string; outboxPath?: string };
      try {
        receipt = await this.send(message);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const verdict = classifyFailure(channel, error);
        const resumable = isResumableStop(message.signal?.reason);
        if (verdict.transient && attempts < maxAttempts && (!message.signal?.aborted || resumable)) {
          await this.messages.recordAttempt(messageId, { status: DeliveryStatus.Queued, error: reason });
          this.metrics.attempted(channel, 'retry');
          const delay = retryDelayMs(attempts, retryBackoffMs, verdict.retryAfterMs);
          if (message.deferRetries) throw new RetryLater(delay, verdict.providerWide ?? false, reason);
          if (!message.signal?.aborted) {
            this.logger.warn(`Message ${messageId}: attempt ${attempts} of ${maxAttempts} failed (${reason}); retrying in ${delay} ms`);
            if (await sleep(delay, true, { signal: message.signal }).catch(() => false)) continue;
          }
          // Stopped while waiting: left `queued` for a resume, or released for the next run.
          if (isResumableStop(message.signal?.reason)) return { status: 'paused' };
          return this.release(message);
        }
        const status = message.resumed && verdict.transient ? DeliveryStatus.Unknown : DeliveryStatus.Failed;
        await this.messages.recordAttempt(messageId, { status, error: reason });
        this.metrics.attempted(channel, status);
        return { status, error: reason };
      }
      // Outside the try: once the channel has taken the message it is never recorded as failed (a failed row
      // does not count against the cap). If this write fails the row stays `sending` for the sweeper.
      await this.messages.recordAttempt(messageId, { status: DeliveryStatus.Sent, providerMessageId: receipt.providerMessageId });
      this.metrics.attempted(channel, 'sent');
      return { status: 'sent', ...receipt };
    }
  }

  private send(message: Dispatch): Promise<{ providerMessageId: string; outboxPath?: string }> {
    const { messageId, recipient: to, draft } = message;
    if (message.channel === Channel.Sms) return this.sms.send({ messageId, to, text: draft.messageText });
    const { html, unsubscribeUrl } = message.email!;
    return this.email.send({ messageId, to, subject: draft.subject, text: draft.messageText, html, unsubscribeUrl });
  }

  /** Shut down while waiting to retry: the row is `queued`, so it is released like a stale claim. */
  private async release(message: Dispatch): Promise<DispatchResult> {
    const settled = await this.messages.settleInterrupted({ ids: [message.messageId] }, []);
    this.metrics.settled(message.channel, DeliveryStatus.Queued, DeliveryStatus.Failed, settled.released.length);
    return { status: 'failed', error: INTERRUPTED_BEFORE_SENDING };
  }
}
