import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Channel, MessageType, Tone } from '../messaging/message.types';
import { EventType } from './message-event.entity';

/** How long after a message a booking still counts as its conversion. */
export const CONVERSION_WINDOW_DAYS = 7;

export interface EngagementGroup {
  messageType: MessageType;
  tone: Tone | null;
  promoCode: string | null;
  channel: Channel;
  sent: number;
  opened: number;
  machineOpened: number;
  clicked: number;
  booked: number;
  unknown: number;
}

interface GroupRow {
  message_type: MessageType;
  tone: Tone | null;
  promo_code: string | null;
  channel: Channel;
  sent: number;
  opened: number;
  machine_opened: number;
  clicked: number;
  booked: number;
  unknown: number;
}

@Injectable()
export class EngagementStatsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Messages sent in [from, to), by type, tone, promo and channel: how many were sent, opened by a reader, only
   * fetched by a mail proxy (machine opens and no reader's open), clicked at least once,
   * and followed by a non-cancelled booking of their customer within CONVERSION_WINDOW_DAYS; and how many were
   * handed over in the period by a process that died before the channel answered (`unknown`, sent_at being
   * the hand-over), which count in none of the others.
   */
  async groups(from: Date, to: Date): Promise<EngagementGroup[]> {
    // message_sends is Messaging's view of ai_messages and kept_bookings Segmentation's of bookings.
    const rows: GroupRow[] = await this.dataSource.query(
      `SELECT m.message_type, m.tone, m.promo_code, m.channel,
              count(*) FILTER (WHERE NOT m.outcome_unknown)::int AS sent,
              count(*) FILTER (WHERE NOT m.outcome_unknown AND EXISTS (
                SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.event_type = $5))::int AS opened,
              count(*) FILTER (WHERE NOT m.outcome_unknown AND EXISTS (
                SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.event_type = $6) AND NOT EXISTS (
                SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.event_type = $5))::int AS machine_opened,
              count(*) FILTER (WHERE NOT m.outcome_unknown AND EXISTS (
                SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.event_type = $3))::int AS clicked,
              count(*) FILTER (WHERE NOT m.outcome_unknown AND EXISTS (
                SELECT 1 FROM kept_bookings b
                 WHERE b.customer_id = m.customer_id
                   AND b.booked_at > m.sent_at
                   AND b.booked_at <= m.sent_at + make_interval(days => $4)))::int AS booked,
              count(*) FILTER (WHERE m.outcome_unknown)::int AS unknown
         FROM message_sends m
        WHERE m.sent_at >= $1 AND m.sent_at < $2
        GROUP BY m.message_type, m.tone, m.promo_code, m.channel
        ORDER BY m.message_type, m.tone NULLS FIRST, m.promo_code NULLS FIRST, m.channel`,
      [from, to, EventType.MessageClicked, CONVERSION_WINDOW_DAYS, EventType.MessageOpened, EventType.MachineOpen],
    );
    return rows.map((row) => ({
      messageType: row.message_type,
      tone: row.tone,
      promoCode: row.promo_code,
      channel: row.channel,
      sent: row.sent,
      opened: row.opened,
      machineOpened: row.machine_opened,
      clicked: row.clicked,
      booked: row.booked,
      unknown: row.unknown,
    }));
  }
}
