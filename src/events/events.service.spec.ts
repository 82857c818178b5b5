import { mock } from 'jest-mock-extended';
import { AiMessageEntity } from '../messaging/ai-message.entity';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { TokenScope } from '../messaging/deep-link.service';
import { StatusChange } from '../messaging/delivery-status';
import { CustomerRepository } from '../segmentation/customer.repository';
import { EventsMetrics } from './events.metrics';
import { EventsService } from './events.service';
import { EventSource, EventType } from './message-event.entity';
import { MessageEventRepository, NewMessageEvent } from './message-event.repository';

const MESSAGE = {
  id: '4f0c6c7e-2d1b-4c8a-9a53-0c1d5e9b7a11',
  userId: '229211b0-9cf4-4e36-b707-d593034bfb0f',
  sentAt: new Date('2025-11-26T10:00:00Z'),
};
const CLAIMS = {
  sub: MESSAGE.userId,
  message_id: MESSAGE.id,
  service_id: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  promo_code: null,
  scope: TokenScope.Booking,
};

function newTestService(inserted = true) {
  const messages = mock<AiMessageRepository>();
  messages.findById.mockResolvedValue(MESSAGE as AiMessageEntity);
  messages.advance.mockResolvedValue(true);
  const events = mock<MessageEventRepository>();
  events.insertOnce.mockImplementation(async (event: NewMessageEvent) => ({ event: { ...event, id: 'e1' }, inserted }));
  const customers = mock<CustomerRepository>();
  customers.optOut.mockResolvedValue(true);
  const metrics = mock<EventsMetrics>();
  return { sut: new EventsService(messages, events, customers, metrics), mocks: { messages, events, customers, metrics } };
}

describe(EventsService.name, () => {
  it.each([
    [EventType.MessageOpened, StatusChange.Open],
    [EventType.MessageClicked, StatusChange.Click],
    [EventType.BookingStarted, StatusChange.Click],
    [EventType.BookingCompleted, StatusChange.Book],
  ])('%s applies the change %s to its message and is counted', async (eventType, change) => {
    const { sut, mocks } = newTestService();
    const result = await sut.record(MESSAGE, eventType, EventSource.Sms, new Date('2025-11-26T10:15:00Z'));
    expect(result.duplicate).toBe(false);
    expect(mocks.messages.advance).toHaveBeenCalledWith(MESSAGE.id, change);
    expect(mocks.metrics.recorded).toHaveBeenCalledWith(eventType, EventSource.Sms);
    expect(mocks.customers.optOut).not.toHaveBeenCalled();
  });

  it('unsubscribed marks the message and opts the customer out', async () => {
    const { sut, mocks } = newTestService();
    await sut.record(MESSAGE, EventType.Unsubscribed, EventSource.Email, new Date());
    expect(mocks.messages.advance).toHaveBeenCalledWith(MESSAGE.id, StatusChange.Unsubscribe);
    expect(mocks.messages.advance).toHaveBeenCalledTimes(1);
    expect(mocks.customers.optOut).toHaveBeenCalledWith(MESSAGE.userId, 'event');
  });

  it('does not count a duplicate, but re-applies its idempotent effects', async () => {
    const { sut, mocks } = newTestService(false);
    const result = await sut.record(MESSAGE, EventType.MessageOpened, EventSource.Email, new Date());
    expect(result.duplicate).toBe(true);
    expect(mocks.metrics.recorded).not.toHaveBeenCalled();
    expect(mocks.messages.advance).toHaveBeenCalledWith(MESSAGE.id, StatusChange.Open);
  });

  it('rejects a token whose message belongs to another customer, recording nothing', async () => {
    const { sut, mocks } = newTestService();
    const claims = { ...CLAIMS, sub: '201df462-8e81-475b-9b9b-2a2946218312' };
    await expect(sut.recordWithToken(claims, { event_type: EventType.MessageOpened, source: EventSource.Email })).rejects.toMatchObject({
      code: 'INVALID_TOKEN',
    });
    expect(mocks.events.insertOnce).not.toHaveBeenCalled();
  });

  it('answers the stored event, with occurred_at as given', async () => {
    const { sut } = newTestService();
    const response = await sut.recordWithToken(CLAIMS, {
      event_type: EventType.BookingStarted,
      source: EventSource.Email,
      occurred_at: '2025-11-26T16:15:00+06:00',
    });
    expect(response).toEqual({
      id: 'e1',
      message_id: MESSAGE.id,
      customer_id: MESSAGE.userId,
      event_type: 'booking_started',
      source: 'email',
      occurred_at: '2025-11-26T10:15:00.000Z',
      duplicate: false,
    });
  });

  it.each([EventType.BookingCompleted, EventType.Unsubscribed])(
    'refuses %s with a click token (403 INSUFFICIENT_SCOPE), recording and changing nothing',
    async (eventType) => {
      const { sut, mocks } = newTestService();
      const claims = { ...CLAIMS, scope: TokenScope.Click };
      await expect(sut.recordWithToken(claims, { event_type: eventType, source: EventSource.Email })).rejects.toMatchObject({
        code: 'INSUFFICIENT_SCOPE',
      });
      expect(mocks.events.insertOnce).not.toHaveBeenCalled();
      expect(mocks.customers.optOut).not.toHaveBeenCalled();
    },
  );

  it.each([EventType.MessageOpened, EventType.MessageClicked, EventType.BookingStarted])(
    'records %s with a click token',
    async (eventType) => {
      const { sut, mocks } = newTestService();
      await sut.recordWithToken({ ...CLAIMS, scope: TokenScope.Click }, { event_type: eventType, source: EventSource.Sms });
      expect(mocks.events.insertOnce).toHaveBeenCalledWith(expect.objectContaining({ eventType, messageId: MESSAGE.id }));
    },
  );
  it('rejects an occurred_at before the send, beyond 5 minutes of clock skew, recording nothing', async () => {
    const { sut, mocks } = newTestService();
    const at = (occurred_at: string) => sut.recordWithToken(CLAIMS, { event_type: EventType.MessageOpened, source: EventSource.Email, occurred_at });
    await expect(at('2025-11-26T09:54:59Z')).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ field: 'occurred_at', message: 'occurred_at must not be before the message was sent (2025-11-26T10:00:00.000Z)' }],
    });
    expect(mocks.events.insertOnce).not.toHaveBeenCalled();
    await expect(at('2025-11-26T09:55:00Z')).resolves.toMatchObject({ duplicate: false });
  });
});
