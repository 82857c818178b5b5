import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Metric } from '../metrics/metric-names';
import { registerScrapedGauge, ScrapeCache, unregisterScrapedGauge } from '../metrics/scraped-gauge';
import { HealthService } from './health.service';

/**
 * Scrapes closer together than this share one round of checks, so each dependency is asked at most this often: an
 * SMTP login per scrape would look like abuse to a mail provider. The alerts' `for` (2 m and more) is longer.
 */
const HEALTH_METRIC_CACHE_MS = 60_000;

/**
 * `smartengage_health_up{check}`: the readiness checks, the optional ones included, run when Prometheus scrapes,
 * so an alert sees an outage even when nothing calls /health/ready. 1 up, 0 down; checks that are not configured have no series.
 */
@Injectable()
export class HealthGauge implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(HealthGauge.name);
  private gauge?: Gauge<'check'>;
  private readonly results = new ScrapeCache(() => this.health.upByCheck(), HEALTH_METRIC_CACHE_MS, (error) =>
    this.logger.warn(`Could not run the health checks: ${error instanceof Error ? error.message : error}`),
  );

  constructor(private readonly health: HealthService) {}

  onModuleInit(): void {
    const results = this.results;
    this.gauge = registerScrapedGauge({
      name: Metric.HealthUp,
      help: 'Whether each /health/ready check (database, redis, queue, smtp, sms_gateway, llm) is up: 1 up, 0 down; not configured: no series',
      labelNames: ['check'],
      async collect() {
        const upByCheck = await results.get();
        this.reset();
        for (const [check, up] of upByCheck ?? []) this.set({ check }, up ? 1 : 0);
      },
    });
  }

  onModuleDestroy(): void {
    unregisterScrapedGauge(Metric.HealthUp, this.gauge);
  }
}
