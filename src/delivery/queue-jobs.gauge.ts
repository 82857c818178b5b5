import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Metric } from '../metrics/metric-names';
import { registerScrapedGauge, ScrapeCache } from '../metrics/scraped-gauge';
import { Channel } from '../messaging/message.types';
import { QueuedReminderDelivery } from './queued-reminder-delivery';

const STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const;

/** Queue mode: jobs in each delivery queue by state, read from Redis at scrape time (at most every 5 s). */
@Injectable()
export class QueueJobsGauge implements OnModuleInit {
  private readonly logger = new Logger('DeliveryQueue');
  private readonly counts: ScrapeCache<{ queue: string; counts: Record<string, number> }[]>;

  constructor(private readonly delivery: QueuedReminderDelivery) {
    this.counts = new ScrapeCache(
      () =>
        Promise.all(
          [Channel.Email, Channel.Sms].map(async (channel) => {
            const queue = this.delivery.queue(channel);
            return { queue: queue.name, counts: await queue.getJobCounts(...STATES) };
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
  }
}
