import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter, Histogram } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { Metric } from '../metrics/metric-names';
import { LlmUsage } from './message-content';

/** Batch API requests are billed at half the price of live ones. */
export const BATCH_PRICE_FACTOR = 0.5;

const KINDS = { input: 'input', cachedInput: 'cached_input', output: 'output' } as const;

/** What the LLM path records into Prometheus: tokens and their cost, request times, 429s and budget waits. */
@Injectable()
export class LlmMetrics {
  private readonly price: AppConfig['openai']['pricePerMtok'];

  constructor(
    config: AppConfig,
    @InjectMetric(Metric.LlmTokens) private readonly tokens: Counter<string>,
    @InjectMetric(Metric.LlmCost) private readonly cost: Counter<string>,
    @InjectMetric(Metric.LlmRequestDuration) private readonly duration: Histogram<string>,
    @InjectMetric(Metric.LlmRateLimited) private readonly rateLimits: Counter<string>,
    @InjectMetric(Metric.LlmBudgetWaits) private readonly waits: Counter<string>,
    @InjectMetric(Metric.LlmBudgetWaitSeconds) private readonly waitSeconds: Counter<string>,
  ) {
    this.price = config.openai.pricePerMtok;
    // Series that exist from the start, so the first increase after a restart shows in rate().
    const model = config.openai.model;
    for (const kind of Object.values(KINDS)) tokens.inc({ model, kind }, 0);
    cost.inc({ model }, 0);
    rateLimits.inc({ model }, 0);
    duration.zero({ model });
    waits.inc(0);
    waitSeconds.inc(0);
  }

  /**
   * Counts a completion's tokens and cost (`batch`: answered through the Batch API, at half price); returns the
   * cost (USD) for the message to keep.
   */
  used(model: string, usage: LlmUsage | undefined, batch = false): number | undefined {
    if (!usage) return undefined;
    for (const [field, kind] of Object.entries(KINDS) as [keyof LlmUsage, string][]) {
      if (usage[field] > 0) this.tokens.inc({ model, kind }, usage[field]);
    }
    const cost = costUsd(usage, this.price, batch);
    this.cost.inc({ model }, cost);
    return cost;
  }

  requested(model: string, seconds: number): void {
    this.duration.observe({ model }, seconds);
  }

  rateLimited(model: string): void {
    this.rateLimits.inc({ model });
  }

  waited(ms: number): void {
    if (ms <= 0) return;
    this.waits.inc();
    this.waitSeconds.inc(ms / 1000);
  }
}

/** USD of one completion at the OPENAI_PRICE_* table (per million tokens); half that through the Batch API. */
export function costUsd(usage: LlmUsage, price: AppConfig['openai']['pricePerMtok'], batch = false): number {
  const full = (usage.input * price.input + usage.cachedInput * price.cachedInput + usage.output * price.output) / 1e6;
  return batch ? full * BATCH_PRICE_FACTOR : full;
}
