import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter, Gauge } from 'prom-client';
import { Metric } from '../metrics/metric-names';
import { registerScrapedGauge, ScrapeCache, unregisterScrapedGauge } from '../metrics/scraped-gauge';
import { CAMPAIGN_JOB_NAME } from './campaign.types';
import { JobRunEntity, JobRunStatus, JobTrigger } from './job-run.entity';
import { JobRunRepository } from './job-run.repository';

/** Scrapes closer together than this share one pair of queries. */
export const CAMPAIGN_STATE_CACHE_MS = 5_000;

/** Statuses a run that tried to send can have (SKIPPED triggers never started one). */
const ATTEMPT_STATUSES = Object.values(JobRunStatus).filter((status) => status !== JobRunStatus.Skipped);

interface CampaignState {
  latest: JobRunEntity | null;
  lastSuccess: JobRunEntity | null;
}

const seconds = (date: Date) => date.getTime() / 1000;

/**
 * The campaign as job_runs records it, read at scrape time: right after a restart, the same on every
 * replica (aggregate with `max`), and visible to alerts even on a day the scheduler never fired.
 */
@Injectable()
export class CampaignMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(CampaignMetrics.name);
  private readonly gauges = new Map<string, Gauge<string>>();
  private readonly state = new ScrapeCache(() => this.load(), CAMPAIGN_STATE_CACHE_MS, (error) =>
    this.logger.warn(`Could not read the campaign runs: ${error instanceof Error ? error.message : error}`),
  );

  constructor(
    private readonly jobRuns: JobRunRepository,
    @InjectMetric(Metric.CampaignRuns) private readonly runs: Counter<string>,
  ) {}

  onModuleInit(): void {
    // Series that exist from the start make the first FAILED after a restart an increase Prometheus sees.
    for (const status of Object.values(JobRunStatus).filter((s) => s !== JobRunStatus.Running)) {
      for (const trigger of Object.values(JobTrigger)) this.runs.inc({ status, trigger }, 0);
    }
    const state = this.state;
    this.register(Metric.CampaignLastSuccess, {
      help: 'When the latest successful (DONE, not dry) campaign run finished, in Unix seconds; 0 if none has',
      async collect() {
        const current = await state.get();
        if (!current) return this.reset();
        this.set(current.lastSuccess?.finishedAt ? seconds(current.lastSuccess.finishedAt) : 0);
      },
    });
    this.register(Metric.CampaignLatestRunStatus, {
      help: 'Status of the latest campaign run that tried to send: 1 for its status, 0 for the others',
      labelNames: ['status'],
      async collect() {
        const current = await state.get();
        if (!current) return this.reset();
        for (const status of ATTEMPT_STATUSES) this.set({ status }, current.latest?.status === status ? 1 : 0);
      },
    });
    this.register(Metric.CampaignLatestRunCustomers, {
      help: 'Customers of the latest campaign run that tried to send, by state (eligible, processed, sent, failed, skipped, unknown)',
      labelNames: ['state'],
      async collect() {
        const run = (await state.get())?.latest;
        if (!run) return this.reset();
        this.set({ state: 'eligible' }, run.totalEligible);
        this.set({ state: 'processed' }, run.processed);
        this.set({ state: 'sent' }, run.sent);
        this.set({ state: 'failed' }, run.failed);
        this.set({ state: 'skipped' }, run.skipped);
        this.set({ state: 'unknown' }, run.unknown);
      },
    });
    this.register(Metric.CampaignLatestRunStart, {
      help: 'When the latest campaign run that tried to send started, in Unix seconds; 0 if none has',
      async collect() {
        const run = (await state.get())?.latest;
        if (!run) return this.reset();
        this.set(seconds(run.startedAt));
      },
    });
  }

  onModuleDestroy(): void {
    for (const [name, gauge] of this.gauges) unregisterScrapedGauge(name, gauge);
  }

  private register(name: string, config: { help: string; labelNames?: string[]; collect: (this: Gauge<string>) => Promise<void> }): void {
    this.gauges.set(name, registerScrapedGauge({ name, ...config }));
  }

  private async load(): Promise<CampaignState> {
    const [latest, lastSuccess] = await Promise.all([
      this.jobRuns.findLatestAttempt(CAMPAIGN_JOB_NAME),
      this.jobRuns.findLastSuccess(CAMPAIGN_JOB_NAME),
    ]);
    return { latest, lastSuccess };
  }
}
