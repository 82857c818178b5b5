import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter, Histogram } from 'prom-client';
import { Metric } from '../metrics/metric-names';
import { SafetyRule } from '../safety/safety.types';
import { Draft, SAFETY_REJECTED } from './drafting.service';
import { DeliveryStatus } from './delivery-status';
import { Channel, GeneratorKind, MessageType } from './message.types';
import { LlmFailure } from './openai-prose.generator';
import { DeliveryRequest, SkipReason } from './reminder-delivery';

const AGENT_TYPE = 'smartengage';
const SEND_STATUSES = ['sent', 'failed'] as const;
const ATTEMPT_OUTCOMES = ['sent', 'retry', 'failed', 'unknown'] as const;

/** What messaging records into Prometheus. */
@Injectable()
export class MessagingMetrics implements OnModuleInit {
  constructor(
    @InjectMetric(Metric.MessagesSent) private readonly messagesSent: Counter<string>,
    @InjectMetric(Metric.GenerationDuration) private readonly generationDuration: Histogram<string>,
    @InjectMetric(Metric.TemplateFallbacks) private readonly fallbacks: Counter<string>,
    @InjectMetric(Metric.SafetyRejections) private readonly safetyRejections: Counter<string>,
    @InjectMetric(Metric.Skipped) private readonly skips: Counter<string>,
    @InjectMetric(Metric.SmsSegments) private readonly smsSegments: Counter<string>,
    @InjectMetric(Metric.DeliveryAttempts) private readonly attempts: Counter<string>,
    @InjectMetric(Metric.StaleMessagesSettled) private readonly settledCounter: Counter<string>,
  ) {
    // Series that exist from the start let rate() and increase() see the first failure or fallback after a
    // restart; a series born at 1 hides that first increase from them (and from the alerts built on them).
    for (const channel of Object.values(Channel)) {
      for (const message_type of Object.values(MessageType)) {
        for (const status of SEND_STATUSES) messagesSent.inc({ agent_type: AGENT_TYPE, channel, message_type, status }, 0);
      }
    }
    for (const generator of Object.values(GeneratorKind)) generationDuration.zero({ generator });
    for (const reason of [...Object.values(LlmFailure), SAFETY_REJECTED]) fallbacks.inc({ reason }, 0);
    // A held-out customer never reaches the per-customer step: smartengage_experiment_customers counts them.
    for (const reason of Object.values(SkipReason)) if (reason !== SkipReason.Holdout) skips.inc({ reason }, 0);
    for (const rule of Object.values(SafetyRule)) safetyRejections.inc({ rule }, 0);
  }

  /** Delivery series exist from the start, so the first retry or unknown after a restart is an increase. */
  onModuleInit(): void {
    for (const channel of Object.values(Channel)) {
      for (const outcome of ATTEMPT_OUTCOMES) this.attempts.inc({ channel, outcome }, 0);
      this.settledCounter.inc({ channel, from: DeliveryStatus.Queued, to: DeliveryStatus.Failed }, 0);
      this.settledCounter.inc({ channel, from: DeliveryStatus.Sending, to: DeliveryStatus.Unknown }, 0);
    }
  }

  generated(draft: Draft): void {
    this.generationDuration.observe({ generator: draft.generator }, draft.generationSeconds);
    if (draft.fallbackReason) this.fallbacks.inc({ reason: draft.fallbackReason });
    // Brief findings are stored like safety ones but are not safety rejections.
    if (draft.fallbackReason === SAFETY_REJECTED) {
      for (const violation of draft.violations ?? []) this.safetyRejections.inc({ rule: violation.rule });
    }
  }

  attempted(channel: Channel, outcome: (typeof ATTEMPT_OUTCOMES)[number]): void {
    this.attempts.inc({ channel, outcome });
  }

  settled(channel: Channel, from: DeliveryStatus, to: string, count = 1): void {
    if (count > 0) this.settledCounter.inc({ channel, from, to }, count);
  }

  sent(
    request: Pick<DeliveryRequest, 'channel' | 'messageType'>,
    status: (typeof SEND_STATUSES)[number],
    smsSegments?: number,
  ): void {
    if (status === 'sent' && smsSegments) this.smsSegments.inc(smsSegments);
    this.messagesSent.inc({
      agent_type: AGENT_TYPE,
      channel: request.channel,
      message_type: request.messageType,
      status,
    });
  }

  skipped(reason: SkipReason): void {
    this.skips.inc({ reason });
  }
}
