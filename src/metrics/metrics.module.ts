import { Global, Module } from '@nestjs/common';
import {
  makeCounterProvider,
  makeHistogramProvider,
  PrometheusModule,
} from '@willsoto/nestjs-prometheus';
import { Metric } from './metric-names';

const providers = [
  makeCounterProvider({
    name: Metric.MessagesSent,
    help: 'Messages handed to a channel, by outcome',
    labelNames: ['agent_type', 'channel', 'message_type', 'status'],
  }),
  makeHistogramProvider({
    name: Metric.GenerationDuration,
    help: 'Time to write one message (generation, composition and safety checks)',
    labelNames: ['generator'],
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
  }),
  makeCounterProvider({
    name: Metric.TemplateFallbacks,
    help: 'Messages written by the template although an LLM is configured, by reason',
    labelNames: ['reason'],
  }),
  makeCounterProvider({
    name: Metric.SafetyRejections,
    help: 'Drafts rejected by the safety filter, by rule',
    labelNames: ['rule'],
  }),
  makeCounterProvider({ name: Metric.LlmTokens, help: 'Tokens used by LLM completions' }),
  makeCounterProvider({
    name: Metric.Skipped,
    help: 'Customers not messaged, by reason (opted out, frequency capped, ...)',
    labelNames: ['reason'],
  }),
];

/** GET /metrics in Prometheus text format, plus the metric objects other modules record into. */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } })],
  providers,
  exports: providers,
})
export class MetricsModule {}
