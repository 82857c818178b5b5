import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { DeliveryStatus } from '../messaging/message.types';
import { DeliveryStatusRepository } from './delivery-status.repository';
import { Metric } from './metric-names';

/** Scrapes closer together than this share one query. */
export const DELIVERY_STATUS_CACHE_MS = 5_000;

type Counts = Map<string, number>;

/**
 * `ai_messages_delivery_status{status}`: counted in the database at scrape time, so it is right after a
 * restart and across replicas. Every known status is reported, zero when no message has it.
 */
@Injectable()
export class DeliveryStatusGauge implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(DeliveryStatusGauge.name);
  private gauge?: Gauge<'status'>;
  private cached?: { at: number; counts: Promise<Counts | undefined> };
  private lastGood?: Counts;

  constructor(private readonly repository: DeliveryStatusRepository) {}

  onModuleInit(): void {
    // The default registry is process-wide: replace a gauge left by an earlier app (tests build several),
    // whose collect() would query that app's closed connection.
    register.removeSingleMetric(Metric.DeliveryStatus);
    const counts = () => this.counts();
    this.gauge = new Gauge({
      name: Metric.DeliveryStatus,
      help: 'Messages in ai_messages by delivery status',
      labelNames: ['status'],
      async collect() {
        const byStatus = await counts();
        if (!byStatus) return this.reset();
        for (const status of Object.values(DeliveryStatus)) this.set({ status }, byStatus.get(status) ?? 0);
      },
    });
  }

  onModuleDestroy(): void {
    if (this.gauge && register.getSingleMetric(Metric.DeliveryStatus) === this.gauge) {
      register.removeSingleMetric(Metric.DeliveryStatus);
    }
  }

  /** The counts, at most DELIVERY_STATUS_CACHE_MS old; the last good ones while the database fails. */
  private counts(): Promise<Counts | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= DELIVERY_STATUS_CACHE_MS) {
      const counts = this.repository.countByStatus().then(
        (fresh) => (this.lastGood = fresh),
        (error: unknown) => {
          // A database outage must not fail the whole scrape; /health reports the outage.
          this.logger.warn(`Could not count messages by delivery status: ${error instanceof Error ? error.message : error}`);
          this.cached = undefined;
          return this.lastGood;
        },
      );
      this.cached = { at: now, counts };
    }
    return this.cached.counts;
  }
}
