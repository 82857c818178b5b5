import { Injectable, Logger } from '@nestjs/common';

/** Repeats of one error from one source are logged at most this often. */
const REPEAT_MS = 30_000;

/**
 * BullMQ's queues, workers and event streams report every failed reconnect as an `error` event (an EventEmitter
 * without a listener would crash the process). While Redis is down that is several a second: this logs the
 * first of each source and message, then at most one every 30 s, and says when the source works again.
 */
@Injectable()
export class QueueErrorLog {
  private readonly logger = new Logger('DeliveryQueue');
  private readonly lastLogged = new Map<string, number>();

  report(source: string, error: Error): void {
    const key = `${source}: ${error.message}`;
    const last = this.lastLogged.get(key) ?? 0;
    if (Date.now() - last < REPEAT_MS) return;
    this.lastLogged.set(key, Date.now());
    this.logger.error(`Redis (${source}): ${error.message}; deliveries wait until it answers again`);
  }
}
