import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter } from 'prom-client';
import { Metric } from '../metrics/metric-names';
import { EventSource, EventType, SOURCES_OF_EVENT } from './message-event.entity';

/** What the events module records into Prometheus. */
@Injectable()
export class EventsMetrics {
  constructor(@InjectMetric(Metric.MessageEvents) private readonly events: Counter<string>) {
    // Series that exist from the start let rate() see the first event after a restart; only pairs that can occur.
    for (const [event_type, sources] of Object.entries(SOURCES_OF_EVENT)) {
      for (const source of sources) events.inc({ event_type, source }, 0);
    }
  }

  /** A new event was stored; duplicates are not counted. */
  recorded(eventType: EventType, source: EventSource): void {
    this.events.inc({ event_type: eventType, source });
  }
}
