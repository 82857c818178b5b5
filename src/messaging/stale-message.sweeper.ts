import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { isWithinHours } from '../common/local-time';
import { RequestContext } from '../common/request-context';
import { LockId } from '../database/lock-ids';
import { LockService } from '../database/lock.service';
import { AiMessageRepository } from './ai-message.repository';
import { DeliveryJobProbe } from './delivery-job-probe';
import { DeliveryStatus } from './delivery-status';
import { Channel } from './message.types';
import { MessageDispatcher } from './message-dispatcher';
import { MessagingMetrics } from './messaging.metrics';

/** How often each replica tries to sweep; one at a time gets the lock. */
export const SWEEP_INTERVAL_MS = 60_000;
/**
 * Queue mode: stale `queued` rows checked against the queue per sweep, oldest first. A row is stale only when its
 * job is missing or waiting for a retry, so a backlog this large is already an outage; the rest waits a minute.
 */
const QUEUE_CHECK_LIMIT = 20_000;

/** What one sweep settled. */
export interface SweepReport {
  /** queued → failed, cap slot and campaign-day claim freed. */
  released: number;
  /** sending → unknown (email, and SMS out of attempts). */
  unknown: number;
  /** sending SMS handed to the gateway again, by how that ended. */
  resent: Record<string, number>;
}

/**
 * Settles messages a dead process left behind, once they are older than STALE_CLAIM_MINUTES: `queued` ones
 * never reached the channel, so they fail and the customer is free for the next run (in queue mode only those
 * whose job is gone: a job still in the queue is waiting for a worker or for its retry, and will send it); `sending` emails may have
 * reached the mail server and become `unknown` (never resent: that could deliver twice); `sending` SMS are sent
 * again, since the gateway drops a repeat by its Idempotency-Key. Runs at boot (after migrations) and every
 * minute on every replica, under a lock so one sweeps at a time.
 */
@Injectable()
export class StaleMessageSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StaleMessageSweeper.name);
  private timer?: NodeJS.Timeout;
  private current: Promise<unknown> = Promise.resolve();
  /** Aborted at shutdown: an SMS being sent again gets no further retry. */
  private readonly shutdown = new AbortController();

  constructor(
    private readonly messages: AiMessageRepository,
    private readonly dispatcher: MessageDispatcher,
    private readonly locks: LockService,
    private readonly metrics: MessagingMetrics,
    private readonly config: AppConfig,
    @Optional() private readonly queue?: DeliveryJobProbe,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sweepLogged();
    this.timer = setInterval(() => void this.sweepLogged(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.shutdown.abort();
    await this.current;
  }

  /** One sweep, unless another replica is sweeping (then null). */
  async sweep(): Promise<SweepReport | null> {
    const locked = await this.locks.tryLock(LockId.StaleMessageSweep, () => this.settle());
    return locked.acquired ? locked.result : null;
  }

  private sweepLogged(): Promise<unknown> {
    this.current = RequestContext.run(randomUUID(), async () => {
      try {
        const report = await this.sweep();
        const resent = Object.values(report?.resent ?? {}).reduce((a, b) => a + b, 0);
        if (report && report.released + report.unknown + resent > 0) {
          this.logger.warn(
            `Settled interrupted messages: ${report.released} released (queued), ${report.unknown} unknown (sending), ` +
              `${resent} SMS sent again (${JSON.stringify(report.resent)})`,
          );
        }
      } catch (error) {
        this.logger.error(`The sweep of interrupted messages failed: ${error instanceof Error ? error.message : error}`);
      }
    });
    return this.current;
  }

  private async settle(): Promise<SweepReport> {
    const { staleClaimMs, maxAttempts } = this.config.delivery;
    const staleBefore = new Date(Date.now() - staleClaimMs);
    const releaseOnly = await this.withoutJob(staleBefore);
    const settled = await this.messages.settleInterrupted({ staleBefore, releaseOnly }, [Channel.Email]);
    for (const channel of settled.released) this.metrics.settled(channel, DeliveryStatus.Queued, DeliveryStatus.Failed);
    for (const channel of settled.unknown) this.metrics.settled(channel, DeliveryStatus.Sending, DeliveryStatus.Unknown);
    const report: SweepReport = { released: settled.released.length, unknown: settled.unknown.length, resent: {} };

    // A resend is a new SMS as far as the customer can tell: not during the quiet hours.
    if (isWithinHours(new Date(), this.config.campaign.timeZone, this.config.sms.quietHours)) return report;
    const sms = await this.messages.takeStaleSms(staleBefore, maxAttempts);
    this.metrics.settled(Channel.Sms, DeliveryStatus.Sending, DeliveryStatus.Unknown, sms.unknown);
    report.unknown += sms.unknown;
    for (const row of sms.resend) {
      const { status } = await this.dispatcher.dispatch({
        messageId: row.id,
        channel: Channel.Sms,
        recipient: row.recipient,
        draft: row.draft,
        attempts: row.attempts,
        resumed: true,
        signal: this.shutdown.signal,
      });
      report.resent[status] = (report.resent[status] ?? 0) + 1;
      this.metrics.settled(Channel.Sms, DeliveryStatus.Sending, status);
    }
    return report;
  }

  /** Queue mode: the stale `queued` rows whose job is no longer in the queue (undefined in-process: all of them). */
  private async withoutJob(staleBefore: Date): Promise<string[] | undefined> {
    if (!this.queue) return undefined;
    const stale = await this.messages.findStaleQueued(staleBefore, QUEUE_CHECK_LIMIT);
    if (stale.length === 0) return [];
    const waiting = await this.queue.jobsInQueue(stale);
    if (waiting.size > 0) this.logger.log(`${waiting.size} stale queued message(s) still have their job in the queue: left waiting`);
    return stale.filter((row) => !waiting.has(row.id)).map((row) => row.id);
  }
}
