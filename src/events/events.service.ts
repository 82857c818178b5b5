import { Injectable } from '@nestjs/common';
import { AiMessageEntity } from '../messaging/ai-message.entity';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { BookingTokenClaims, TokenScope } from '../messaging/deep-link.service';
import { EngagementChange, StatusChange } from '../messaging/delivery-status';
import { CustomerRepository } from '../segmentation/customer.repository';
import { AppException, ErrorCode } from '../common/app.exception';
import { MAX_CLOCK_SKEW_MS, MessageEventResponseDto, RecordEventRequestDto } from './dto/record-event.dto';
import { insufficientScope, invalidBookingToken } from './events.exceptions';
import { EventsMetrics } from './events.metrics';
import { EventSource, EventType } from './message-event.entity';
import { MessageEvent, MessageEventRepository } from './message-event.repository';

/** How each event moves its message's delivery status (Messaging's state machine says from where). */
const CHANGE_FOR: Record<EventType, EngagementChange> = {
  // A mail proxy fetched the pixel: the message arrived (an `unknown` one was sent), nobody is known to have read it.
  [EventType.MachineOpen]: StatusChange.Sent,
  [EventType.MessageOpened]: StatusChange.Open,
  [EventType.MessageClicked]: StatusChange.Click,
  [EventType.BookingStarted]: StatusChange.Click,
  [EventType.BookingCompleted]: StatusChange.Book,
  [EventType.Unsubscribed]: StatusChange.Unsubscribe,
};

/** What a click token may record: what following the link and looking at the booking page amount to. */
const CLICK_SCOPE_EVENTS: ReadonlySet<EventType> = new Set([
  EventType.MessageOpened,
  EventType.MessageClicked,
  EventType.BookingStarted,
]);

export interface RecordedEvent {
  event: MessageEvent;
  duplicate: boolean;
}

/** Records what customers did with their messages and what that changes. */
@Injectable()
export class EventsService {
  constructor(
    private readonly messages: AiMessageRepository,
    private readonly events: MessageEventRepository,
    private readonly customers: CustomerRepository,
    private readonly metrics: EventsMetrics,
  ) {}

  /** An event reported by the booking app with the token of the message's link. */
  async recordWithToken(claims: BookingTokenClaims, request: RecordEventRequestDto): Promise<MessageEventResponseDto> {
    if (claims.scope !== TokenScope.Booking && !CLICK_SCOPE_EVENTS.has(request.event_type)) {
      throw insufficientScope(
        `a token from a tracked link cannot record ${request.event_type}: that needs the booking token of the message's ` +
          'booking link (an opt-out can also come from the unsubscribe link)',
      );
    }
    const message = await this.messages.findById(claims.message_id);
    if (!message || message.userId !== claims.sub) throw invalidBookingToken('the booking token names no message of its customer');
    const occurredAt = request.occurred_at ? new Date(request.occurred_at) : new Date();
    assertNotBeforeSend(message, occurredAt);
    const { event, duplicate } = await this.record(message, request.event_type, request.source, occurredAt);
    return toResponse(event, duplicate);
  }

  /**
   * Stores the event once and applies its effects. The effects are idempotent and applied to duplicates
   * too, so a retry after a failure between the insert and the effects completes them.
   */
  async record(
    message: Pick<AiMessageEntity, 'id' | 'userId'>,
    eventType: EventType,
    source: EventSource,
    occurredAt: Date,
  ): Promise<RecordedEvent> {
    const { event, inserted } = await this.events.insertOnce({
      messageId: message.id,
      customerId: message.userId,
      eventType,
      source,
      occurredAt,
    });
    await this.applyEffects(message, eventType, source);
    if (inserted) this.metrics.recorded(eventType, source);
    return { event, duplicate: !inserted };
  }

  private async applyEffects(
    message: Pick<AiMessageEntity, 'id' | 'userId'>,
    eventType: EventType,
    source: EventSource,
  ): Promise<void> {
    await this.messages.advance(message.id, CHANGE_FOR[eventType]);
    if (eventType === EventType.Unsubscribed) {
      await this.customers.optOut(message.userId, source === EventSource.SmsReply ? 'sms_reply' : 'event');
    }
  }
}

/** An event cannot precede its message; the booking app's clock may lag ours by MAX_CLOCK_SKEW_MS. */
function assertNotBeforeSend(message: AiMessageEntity, occurredAt: Date): void {
  const sentAt = message.sentAt ?? message.createdAt;
  if (occurredAt.getTime() >= sentAt.getTime() - MAX_CLOCK_SKEW_MS) return;
  const problem = `occurred_at must not be before the message was sent (${sentAt.toISOString()})`;
  throw new AppException(ErrorCode.ValidationFailed, `invalid request: ${problem}`, [{ field: 'occurred_at', message: problem }]);
}

function toResponse(event: MessageEvent, duplicate: boolean): MessageEventResponseDto {
  return {
    id: event.id,
    message_id: event.messageId,
    customer_id: event.customerId,
    event_type: event.eventType,
    source: event.source,
    occurred_at: event.occurredAt.toISOString(),
    duplicate,
  };
}
