import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export enum EventType {
  MessageOpened = 'message_opened',
  MessageClicked = 'message_clicked',
  BookingStarted = 'booking_started',
  BookingCompleted = 'booking_completed',
  Unsubscribed = 'unsubscribed',
  /** The open pixel fetched by a mail proxy right after the send (Apple's privacy prefetch, Google's image proxy): arrived, not read. */
  MachineOpen = 'machine_open',
}

export enum EventSource {
  Email = 'email',
  Sms = 'sms',
  /** A reply to an SMS, received by POST /webhooks/sms/inbound. */
  SmsReply = 'sms_reply',
}

const CHANNELS = [EventSource.Email, EventSource.Sms];

/**
 * The sources each event type comes from: the booking app reports any but machine opens from either channel, the
 * open pixel sees machine opens (email only), and a STOP reply is an unsubscribe (sms_reply).
 */
export const SOURCES_OF_EVENT: Record<EventType, readonly EventSource[]> = {
  [EventType.MessageOpened]: CHANNELS,
  [EventType.MessageClicked]: CHANNELS,
  [EventType.BookingStarted]: CHANNELS,
  [EventType.BookingCompleted]: CHANNELS,
  [EventType.Unsubscribed]: [...CHANNELS, EventSource.SmsReply],
  [EventType.MachineOpen]: [EventSource.Email],
};

/** What a customer did with a message; stored once per (message, type, occurred_at), opens and clicks once a minute. */
@Entity({ name: 'message_events' })
export class MessageEventEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId: string;

  @Column({ name: 'customer_id', type: 'uuid' })
  customerId: string;

  @Column({ name: 'event_type', type: 'text' })
  eventType: EventType;

  @Column({ type: 'text' })
  source: EventSource;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
