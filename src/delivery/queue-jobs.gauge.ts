import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Metric } from '../metrics/metric-names';
import { registerScrapedGauge, ScrapeCache } from '../metrics/scraped-gauge';
import { Channel } from '../messaging/message.types';
import { QueuedReminderDelivery } from './queued-reminder-delivery';

const STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const;

interface QueueCounts {
  queue: string;
  counts: Record<string, number>;
  /** Worker connections on the queue, in every process (BullMQ names them; CLIENT LIST finds them). */
  workers: number;
}

/**
 * Queue mode: jobs in each delivery queue by state, and the workers consuming it, read from Redis at scrape time
 * (at most every 5 s). Jobs waiting with no worker is how "send-single answered `queued`" shows on a dashboard.
 */
@Injectable()
export class QueueJobsGauge implements OnModuleInit {
  private readonly logger = new Logger('DeliveryQueue');
  private readonly counts: ScrapeCache<QueueCounts[]>;

  constructor(private readonly delivery: QueuedReminderDelivery) {
    this.counts = new ScrapeCache(
      () =>
        Promise.all(
          [Channel.Email, Channel.Sms].map(async (channel) => {
            const queue = this.delivery.queue(channel);
            const [counts, workers] = await Promise.all([queue.getJobCounts(...STATES), queue.getWorkersCount()]);
            return { queue: queue.name, counts, workers };
          }),
        ),
      5_000,
      (error) => this.logger.warn(`Queue depth unavailable: ${error instanceof Error ? error.message : error}`),
    );
  }

  onModuleInit(): void {
    const counts = this.counts;
    registerScrapedGauge({
      name: Metric.DeliveryQueueJobs,
      help: 'Queue mode: delivery jobs in Redis by queue and state (waiting, active, delayed, prioritized)',
      labelNames: ['queue', 'state'],
      async collect() {
        for (const { queue, counts: byState } of (await counts.get()) ?? []) {
          for (const state of STATES) this.set({ queue, state }, byState[state] ?? 0);
        }
      },
    });
    registerScrapedGauge({
      name: Metric.DeliveryQueueWorkers,
      help: 'Queue mode: delivery workers connected to each queue, across every process',
      labelNames: ['queue'],
      async collect() {
        for (const { queue, workers } of (await counts.get()) ?? []) this.set({ queue }, workers);
      },
    });
  }
}
