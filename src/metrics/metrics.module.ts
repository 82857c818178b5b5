import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import {
  makeCounterProvider,
  makeHistogramProvider,
  PrometheusModule,
} from '@willsoto/nestjs-prometheus';
import { dropMisnamedDefaultMetrics } from './default-metrics';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { Metric } from './metric-names';
import { MetricsController } from './metrics.controller';

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
  makeCounterProvider({
    name: Metric.LlmTokens,
    help: 'Tokens used by LLM completions, by model and kind (input, cached_input, output): what the provider bills',
    labelNames: ['model', 'kind'],
  }),
  makeCounterProvider({
    name: Metric.LlmCost,
    help: 'What the LLM completions cost in USD, from the OPENAI_PRICE_* table, by model',
    labelNames: ['model'],
  }),
  makeHistogramProvider({
    name: Metric.LlmRequestDuration,
    help: 'Time of one LLM request (the client retries included when the budget is off), by model',
    labelNames: ['model'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 60],
  }),
  makeCounterProvider({
    name: Metric.LlmRateLimited,
    help: 'LLM requests answered 429 (after the client retries when the budget is off), by model',
    labelNames: ['model'],
  }),
  makeCounterProvider({
    name: Metric.LlmBudgetWaits,
    help: 'LLM drafts that waited for a slot or a turn in the OPENAI_RPM / OPENAI_TPM budget',
  }),
  makeCounterProvider({
    name: Metric.PreparedDrafts,
    help: 'Drafts prepared ahead: written by a prepare; used, stale (facts changed or expired) or refused at send',
    labelNames: ['outcome'],
  }),
  makeCounterProvider({
    name: Metric.LlmBudgetWaitSeconds,
    help: 'Time LLM drafts spent waiting for a slot or a turn in the budget',
  }),
  makeCounterProvider({ name: Metric.SmsSegments, help: 'SMS parts sent (what the gateway bills)' }),
  makeCounterProvider({
    name: Metric.Skipped,
    help: 'Customers not messaged, by reason (opted out, frequency capped, ...)',
    labelNames: ['reason'],
  }),
  makeCounterProvider({
    name: Metric.MessageEvents,
    help: 'Engagement events recorded (duplicates not counted), by type and source',
    labelNames: ['event_type', 'source'],
  }),
  makeCounterProvider({
    name: Metric.DeliveryAttempts,
    help: 'Hand-overs of a message to its channel, by how they ended (sent, retry, failed, unknown)',
    labelNames: ['channel', 'outcome'],
  }),
  makeCounterProvider({
    name: Metric.StaleMessagesSettled,
    help: 'Interrupted messages the sweeper or a shutdown settled, by the status they had and were given',
    labelNames: ['channel', 'from', 'to'],
  }),
  makeHistogramProvider({
    name: Metric.DeliveryQueueLatency,
    help: 'Queue mode: time from a delivery job being added to its message being sent, by channel',
    labelNames: ['channel'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  }),
  makeCounterProvider({
    name: Metric.DeliveryRateLimitWaits,
    help: 'Queue mode: times a provider throttled or was unavailable and every worker of the queue paused, by queue',
    labelNames: ['queue'],
  }),
  makeCounterProvider({
    name: Metric.CampaignRuns,
    help: 'Campaign run attempts by outcome (DONE, FAILED, SKIPPED) and trigger',
    labelNames: ['status', 'trigger'],
  }),
  makeCounterProvider({
    name: Metric.CampaignAutoPauses,
    help: 'Campaign runs that paused themselves because too many of their last deliveries failed',
  }),
  makeHistogramProvider({
    name: Metric.HttpRequestDuration,
    help: 'HTTP request duration by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
  }),
];

/** GET /metrics in Prometheus text format, the metric objects other modules record into, and HTTP timings. */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true }, controller: MetricsController })],
  providers,
  exports: providers,
})
export class MetricsModule implements NestModule {
  constructor() {
    dropMisnamedDefaultMetrics();
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*');
  }
}
