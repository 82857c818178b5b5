import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { Metric } from '../metrics/metric-names';
import { registerScrapedGauge, unregisterScrapedGauge } from '../metrics/scraped-gauge';

/**
 * The pg pool behind TypeORM, read from memory at scrape time. Every connection busy with requests waiting
 * means the pool size or the database is what a run or a request is waiting for.
 */
@Injectable()
export class DatabasePoolGauge implements OnModuleInit, OnModuleDestroy {
  private readonly gauges = new Map<string, Gauge<string>>();

  constructor(private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    const pool = () => (this.dataSource.driver as PostgresDriver).master as Pool | undefined;
    this.register(Metric.DbPoolConnections, 'Open connections in the database pool, by state (busy, idle)', ['state'], function () {
      const current = pool();
      if (!current) return this.reset();
      this.set({ state: 'busy' }, current.totalCount - current.idleCount);
      this.set({ state: 'idle' }, current.idleCount);
    });
    this.register(Metric.DbPoolWaiting, 'Requests waiting for a free database pool connection', [], function () {
      const current = pool();
      if (!current) return this.reset();
      this.set(current.waitingCount);
    });
    this.register(Metric.DbPoolMax, 'Most connections the database pool opens', [], function () {
      const max = pool()?.options.max;
      if (max === undefined) return this.reset();
      this.set(max);
    });
  }

  onModuleDestroy(): void {
    for (const [name, gauge] of this.gauges) unregisterScrapedGauge(name, gauge);
  }

  private register(name: string, help: string, labelNames: string[], collect: (this: Gauge<string>) => void): void {
    this.gauges.set(name, registerScrapedGauge({ name, help, labelNames, collect }));
  }
}
