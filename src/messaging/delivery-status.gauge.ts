import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Metric } from '../metrics/metric-names';
import { registerScrapedGauge, ScrapeCache, unregisterScrapedGauge } from '../metrics/scraped-gauge';
import { AiMessageRepository } from './ai-message.repository';
import { DeliveryStatus } from './delivery-status';

/** Scrapes closer together than this share one query. */
export const DELIVERY_STATUS_CACHE_MS = 5_000;

/**
 * `ai_messages_delivery_status{status}`: counted in the database at scrape time, so it is right after a
 * restart and across replicas. Every known status is reported, zero when no message has it.
 */
@Injectable()
export class DeliveryStatusGauge implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(DeliveryStatusGauge.name);
  private gauge?: Gauge<'status'>;
  // A database outage must not fail the whole scrape; /health reports the outage.
  private readonly counts = new ScrapeCache(() => this.messages.countByStatus(), DELIVERY_STATUS_CACHE_MS, (error) =>
    this.logger.warn(`Could not count messages by delivery status: ${error instanceof Error ? error.message : error}`),
  );

  constructor(private readonly messages: AiMessageRepository) {}

  onModuleInit(): void {
    const counts = this.counts;
    this.gauge = registerScrapedGauge({
      name: Metric.DeliveryStatus,
      help: 'Messages in ai_messages by delivery status',
      labelNames: ['status'],
      async collect() {
        const byStatus = await counts.get();
        if (!byStatus) return this.reset();
        for (const status of Object.values(DeliveryStatus)) this.set({ status }, byStatus.get(status) ?? 0);
      },
    });
  }

  onModuleDestroy(): void {
    unregisterScrapedGauge(Metric.DeliveryStatus, this.gauge);
  }
}
