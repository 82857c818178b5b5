import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Channel, GeneratorKind, MessageType, Tone } from '../messaging/message.types';
import { DeliveryFanOut, FanOutItem } from './delivery-fan-out';
import { DeliveryRequest, ReminderDelivery, SkipReason } from '../messaging/reminder-delivery';

const GRACE_MS = 300;

function newTestFanOut() {
  const delivery = mock<ReminderDelivery>();
  delivery.settleInFlight.mockResolvedValue(0);
  const sut = new DeliveryFanOut(delivery, { shutdownGraceMs: GRACE_MS } as AppConfig);
  return { sut, mocks: { delivery } };
}

const item = (customerId: string): FanOutItem => ({
  customerId,
  request: { channel: Channel.Email, messageType: MessageType.Reminder } as DeliveryRequest,
});

describe('DeliveryFanOut', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('stops starting customers once the caller aborts, and answers the rest as shutting_down', async () => {
    const { sut, mocks } = newTestFanOut();
    const stop = new AbortController();
    mocks.delivery.deliver.mockImplementation(async () => {
      stop.abort();
      return { status: 'skipped', reason: SkipReason.OptedOut };
    });
    const seen: string[] = [];
    const results = await sut.deliverAll([item('a'), item('b'), item('c')], {
      concurrency: 1,
      signal: stop.signal,
      onResult: (result) => seen.push(result.customerId),
    });

    expect(mocks.delivery.deliver).toHaveBeenCalledTimes(1);
    expect(seen).toEqual(['a']);
    expect(results.map((r) => r.outcome)).toEqual([
      { status: 'skipped', reason: SkipReason.OptedOut },
      { status: 'skipped', reason: SkipReason.ShuttingDown },
      { status: 'skipped', reason: SkipReason.ShuttingDown },
    ]);
  });

  it('counts the grace from beginShutdown: a destroy after the grace waits no second grace', async () => {
    const { sut, mocks } = newTestFanOut();
    mocks.delivery.deliver.mockReturnValue(new Promise(() => undefined));
    void sut.deliverAll([item('a')], { concurrency: 1 });

    sut.beginShutdown();
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS));
    const started = Date.now();
    await sut.stop();

    expect(Date.now() - started).toBeLessThan(GRACE_MS / 2);
    expect(mocks.delivery.settleInFlight).toHaveBeenCalledTimes(1);
  });

  it('gives deliveries in flight the grace when nothing began the shutdown before', async () => {
    const { sut, mocks } = newTestFanOut();
    mocks.delivery.deliver.mockReturnValue(new Promise(() => undefined));
    void sut.deliverAll([item('a')], { concurrency: 1 });

    const started = Date.now();
    await sut.stop();

    expect(Date.now() - started).toBeGreaterThanOrEqual(GRACE_MS - 20);
    expect(mocks.delivery.settleInFlight).toHaveBeenCalledTimes(1);
  });

  it('in queue mode answers within SEND_WAIT_SECONDS: a customer with no outcome yet is queued, with the id its job has', async () => {
    const delivery = mock<ReminderDelivery>();
    const config = { shutdownGraceMs: GRACE_MS, redis: { url: 'redis://x' }, queue: { maxPending: 10, sendWaitMs: 50 } } as AppConfig;
    const sut = new DeliveryFanOut(delivery, config);
    delivery.deliver.mockImplementation(async (request) =>
      request.customer === undefined ? new Promise(() => undefined) : { status: 'skipped', reason: SkipReason.OptedOut },
    );
    const waiting: FanOutItem = { customerId: 'b', request: { channel: Channel.Email, messageType: MessageType.Reminder } as DeliveryRequest };
    const answered = { ...waiting, customerId: 'a', request: { ...waiting.request, customer: {} } } as FanOutItem;

    const started = Date.now();
    const results = await sut.deliverAnswering([answered, waiting, { customerId: 'c', skip: SkipReason.NotDue }], 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const queuedId = delivery.deliver.mock.calls.find(([request]) => request.customer === undefined)![0].messageId;
    expect(queuedId).toMatch(/^[0-9a-f-]{36}$/);
    expect(results).toEqual([
      { customerId: 'a', outcome: { status: 'skipped', reason: SkipReason.OptedOut } },
      { customerId: 'b', outcome: { status: 'queued', messageId: queuedId } },
      { customerId: 'c', outcome: { status: 'skipped', reason: SkipReason.NotDue } },
    ]);
  });
});

describe('DeliveryFanOut with an experiment', () => {
  beforeAll(() => Logger.overrideLogger(false));

  const customer = (id: string, email: string | null) =>
    ({ id, email, phone: null, optedOutAt: null, lastBookingAt: new Date('2026-11-01T00:00:00Z'), totalBookings: 2 }) as DeliveryRequest['customer'];
  const withCustomer = (id: string, email: string | null = `${id}@example.com`): FanOutItem => ({
    customerId: id,
    request: { channel: Channel.Email, messageType: MessageType.Reminder, customer: customer(id, email) } as DeliveryRequest,
  });

  it('skips the holdout without delivering, delivers a variant with its overrides, and assigns only who would be messaged', async () => {
    const { sut, mocks } = newTestFanOut();
    mocks.delivery.deliver.mockImplementation(async (request) => ({
      status: 'sent',
      messageId: request.customer.id,
      generator: request.generator!,
      fallbackReason: null,
      subject: String(request.tone),
    }));
    const apply = jest.fn(async (request: DeliveryRequest) =>
      request.customer.id === 'held' ? null : { ...request, tone: Tone.Premium, generator: GeneratorKind.Template },
    );

    const results = await sut.deliverAll([withCustomer('held'), withCustomer('variant'), withCustomer('no-address', null)], {
      concurrency: 1,
      experiment: { apply },
    });

    expect(results.map((r) => r.outcome)).toEqual([
      { status: 'skipped', reason: SkipReason.Holdout },
      { status: 'sent', messageId: 'variant', generator: GeneratorKind.Template, fallbackReason: null, subject: Tone.Premium },
      expect.anything(),
    ]);
    // The customer without an address is not assigned; the delivery skips them with its own reason.
    expect(apply.mock.calls.map(([request]) => request.customer.id)).toEqual(['held', 'variant']);
    expect(mocks.delivery.deliver.mock.calls.map(([request]) => request.customer.id)).toEqual(['variant', 'no-address']);
  });
});
