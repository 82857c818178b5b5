import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { Metric } from '../metrics/metric-names';
import { CIRCUIT_STATE_VALUE } from './circuit-breaker';
import { LlmCircuitBreaker } from './llm-circuit-breaker';

/**
 * `ai_llm_circuit_state`: 0 closed, 1 open, 2 half-open, read at scrape time (an open circuit turns
 * half-open by the clock, not by a call). Only exported when OPENAI_API_KEY is set.
 */
@Injectable()
export class LlmCircuitGauge implements OnModuleInit, OnModuleDestroy {
  private gauge?: Gauge;

  constructor(
    private readonly breaker: LlmCircuitBreaker,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    // The default registry is process-wide: replace a gauge left by an earlier app (tests build several).
    register.removeSingleMetric(Metric.LlmCircuitState);
    if (!this.config.openai.apiKey) return;
    const breaker = this.breaker;
    this.gauge = new Gauge({
      name: Metric.LlmCircuitState,
      help: 'LLM circuit breaker state: 0 closed, 1 open (templates only), 2 half-open (one trial call)',
      collect() {
        this.set(CIRCUIT_STATE_VALUE[breaker.state]);
      },
    });
  }

  onModuleDestroy(): void {
    if (this.gauge && register.getSingleMetric(Metric.LlmCircuitState) === this.gauge) {
      register.removeSingleMetric(Metric.LlmCircuitState);
    }
  }
}
