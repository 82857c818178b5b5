import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventSource, EventType } from './message-event.entity';

export interface NewMessageEvent {
  messageId: string;
  customerId: string;
  eventType: EventType;
  source: EventSource;
  occurredAt: Date;
}

export interface MessageEvent extends NewMessageEvent {
  id: string;
}

interface EventRow {
  id: string;
  message_id: string;
  customer_id: string;
  event_type: EventType;
  source: EventSource;
  occurred_at: Date;
}

const COLUMNS = 'id, message_id, customer_id, event_type, source, occurred_at';

/** Event types stored at most once per message and minute: repeats are reloads, prefetches or floods. */
export const ONCE_A_MINUTE: readonly EventType[] = [EventType.MessageOpened, EventType.MessageClicked, EventType.MachineOpen];

@Injectable()
export class MessageEventRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Stores the event unless it is already there: the same (message, type, occurred_at), or for opens and clicks
   * any of the same message in the same UTC minute (the unique index message_events_once_a_minute), or for an
   * unsubscribe by SMS reply any of the same message (message_events_sms_reply_once).
   * Returns the stored row and whether this call wrote it.
   */
  async insertOnce(event: NewMessageEvent): Promise<{ event: MessageEvent; inserted: boolean }> {
    const key = [event.messageId, event.eventType, event.occurredAt];
    const inserted: EventRow[] = await this.dataSource.query(
      `INSERT INTO message_events (message_id, event_type, occurred_at, customer_id, source)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING
       RETURNING ${COLUMNS}`,
      [...key, event.customerId, event.source],
    );
    if (inserted.length > 0) return { event: toEvent(inserted[0]), inserted: true };
    // ON CONFLICT waited for the conflicting insert to commit, so the row is visible here.
    const [existing]: EventRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM message_events
        WHERE message_id = $1 AND event_type = $2
          AND (occurred_at = $3 OR (event_type = ANY($4::text[])
               AND date_trunc('minute', occurred_at AT TIME ZONE 'UTC') = date_trunc('minute', $3::timestamptz AT TIME ZONE 'UTC'))
               OR (event_type = $5 AND source = $6 AND $7 = $6))
        ORDER BY occurred_at LIMIT 1`,
      [...key, ONCE_A_MINUTE, EventType.Unsubscribed, EventSource.SmsReply, event.source],
    );
    return { event: toEvent(existing), inserted: false };
  }
}

function toEvent(row: EventRow): MessageEvent {
  return {
    id: row.id,
    messageId: row.message_id,
    customerId: row.customer_id,
    eventType: row.event_type,
    source: row.source,
    occurredAt: row.occurred_at,
  };
}
