import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Metric } from '../metrics/metric-names';
import { registerScrapedGauge, ScrapeCache, unregisterScrapedGauge } from '../metrics/scraped-gauge';
import { ExperimentRepository } from './experiment.repository';

/** Scrapes closer together than this share one query. */
const CACHE_MS = 5_000;

/**
 * `smartengage_experiment_customers{experiment, arm, outcome}`: customers assigned to each arm of every running
 * experiment, and those of them who converted (booked within the attribution window). Counted in the database
 * at scrape time, so it is right across replicas and restarts; conversion per arm is converted / assigned.
 */
@Injectable()
export class ExperimentsMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ExperimentsMetrics.name);
  private gauge?: Gauge<'experiment' | 'arm' | 'outcome'>;
  private readonly counts = new ScrapeCache(() => this.experiments.runningArmCounts(), CACHE_MS, (error) =>
    this.logger.warn(`Could not count experiment customers: ${error instanceof Error ? error.message : error}`),
  );

  constructor(private readonly experiments: ExperimentRepository) {}

  onModuleInit(): void {
    const counts = this.counts;
    this.gauge = registerScrapedGauge({
      name: Metric.ExperimentCustomers,
      help: 'Customers of each arm of every running experiment: assigned, and converted (booked within the attribution window)',
      labelNames: ['experiment', 'arm', 'outcome'],
      async collect() {
        const rows = await counts.get();
        this.reset();
        for (const row of rows ?? []) {
          this.set({ experiment: row.key, arm: row.arm, outcome: 'assigned' }, row.assigned);
          this.set({ experiment: row.key, arm: row.arm, outcome: 'converted' }, row.converted);
        }
      },
    });
  }

  onModuleDestroy(): void {
    unregisterScrapedGauge(Metric.ExperimentCustomers, this.gauge);
  }
}
