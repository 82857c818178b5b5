import { Logger } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import Redis, { ChainableCommander } from 'ioredis';
import { mock } from 'jest-mock-extended';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { Channel, GeneratorKind, MessageType } from '../messaging/message.types';
import { DeliveryOutcome, DeliveryRequest, SkipReason } from '../messaging/reminder-delivery';
import { DELIVERY_JOB_NAME, DELIVERY_JOB_OPTIONS, DELIVERY_QUEUES } from './delivery-jobs';
import { QueueErrorLog } from './queue-error-log';
import { QueuedReminderDelivery } from './queued-reminder-delivery';

const WATCHDOG_MS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const request = (messageId: string | undefined, over: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
  customer: {
    id: 'c1',
    name: 'Navid',
    email: 'navid@example.com',
    phone: '+8801712345678',
    lastBookingAt: new Date('2026-10-01T00:00:00Z'),
    lastBookingServiceId: 'svc-1',
    totalBookings: 1,
    optedOutAt: null,
  },
  service: { id: 'svc-1', name: 'Plumbing', nameBn: 'প্লাম্বিং', emoji: '🔧' },
  offer: null,
  messageType: MessageType.Reminder,
  channel: Channel.Email,
  ttlHours: 48,
  bypassFrequencyCap: false,
  correlationId: 'corr-1',
  messageId,
  ...over,
});
const SENT: DeliveryOutcome = { status: 'sent', messageId: 'm1', generator: GeneratorKind.Template, fallbackReason: null, subject: 's' };
const NOT_PROCESSED: DeliveryOutcome = { status: 'skipped', reason: SkipReason.ShuttingDown };

function newTestService() {
  const redis = mock<Redis>();
  const pipeline = mock<ChainableCommander>();
  redis.pipeline.mockReturnValue(pipeline);
  const newQueue = (channel: Channel) => {
    const queue = mock<Queue>({ name: DELIVERY_QUEUES[channel] });
    // Set after: a promise given to mock() would be wrapped in a proxy that no longer awaits.
    Object.assign(queue, { client: Promise.resolve(redis) });
    queue.add.mockResolvedValue(mock<Job>());
    queue.toKey.mockImplementation((id) => `bull:${DELIVERY_QUEUES[channel]}:${id}`);
    return queue;
  };
  const email = newQueue(Channel.Email);
  const sms = newQueue(Channel.Sms);
  const errors = mock<QueueErrorLog>();
  const config = new AppConfig(validateEnvironment({ REDIS_URL: 'redis://127.0.0.1:6379' }));
  const sut = new QueuedReminderDelivery(email, sms, errors, config);
  // What the queue's event stream reports for a job (onModuleInit wires these to BullMQ's QueueEvents).
  const events = {
    completed: (jobId: string, outcome: DeliveryOutcome) => sut['settle'](jobId, outcome),
    failed: (jobId: string, reason: string) => sut['fail'](jobId, reason),
    /** One watchdog pass, as if every job waited for had waited its full interval. */
    watchdog: async () => {
      const now = Date.now();
      const clock = jest.spyOn(Date, 'now').mockReturnValue(now + WATCHDOG_MS);
      try {
        await sut['checkPending']();
      } finally {
        clock.mockRestore();
      }
    },
  };
  return { sut, mocks: { email, sms, pipeline, errors }, events };
}

/** Lets the awaits inside deliver() (the add, the withdraw) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe(QueuedReminderDelivery.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  it("adds a job on the channel's queue with the message id as the job id, and answers the outcome its completion reports", async () => {
    const { sut, mocks, events } = newTestService();

    const answer = sut.deliver(request('m1', { channel: Channel.Sms }));
    await settle();
    events.completed('someone-else', NOT_PROCESSED); // another producer's job: not ours
    events.completed('m1', SENT);

    await expect(answer).resolves.toEqual(SENT);
    expect(mocks.email.add).not.toHaveBeenCalled();
    expect(mocks.sms.add).toHaveBeenCalledWith(
      DELIVERY_JOB_NAME,
      expect.objectContaining({ request: expect.objectContaining({ customer: expect.objectContaining({ lastBookingAt: '2026-10-01T00:00:00.000Z' }) }) }),
      { ...DELIVERY_JOB_OPTIONS, jobId: 'm1' },
    );
  });

  it('gives a request without a message id a fresh one as its job id', async () => {
    const { sut, mocks, events } = newTestService();

    const answer = sut.deliver(request(undefined));
    await settle();
    const [, , options] = mocks.email.add.mock.calls[0];
    expect(options?.jobId).toMatch(UUID);
    events.completed(options!.jobId!, SENT);

    await expect(answer).resolves.toEqual(SENT);
  });

  it('a job that failed outright rejects with its reason', async () => {
    const { sut, events } = newTestService();

    const answer = sut.deliver(request('m1'));
    await settle();
    events.failed('m1', 'connection terminated');

    await expect(answer).rejects.toThrow('connection terminated');
  });

  it('a caller that already stopped gets shutting_down, and nothing is added', async () => {
    const { sut, mocks } = newTestService();
    const stop = new AbortController();
    stop.abort();

    await expect(sut.deliver(request('m1', { signal: stop.signal }))).resolves.toEqual(NOT_PROCESSED);
    expect(mocks.email.add).not.toHaveBeenCalled();
  });

  it('when the caller stops, a job no worker took yet is removed and answered shutting_down', async () => {
    const { sut, mocks } = newTestService();
    const stop = new AbortController();
    mocks.email.remove.mockResolvedValue(1);

    const answer = sut.deliver(request('m1', { signal: stop.signal }));
    await settle();
    stop.abort();

    await expect(answer).resolves.toEqual(NOT_PROCESSED);
    expect(mocks.email.remove).toHaveBeenCalledWith('m1');
  });

  it('when the caller stops, a job a worker already holds (remove refuses it) finishes and answers as usual', async () => {
    const { sut, mocks, events } = newTestService();
    const stop = new AbortController();
    mocks.email.remove.mockResolvedValue(0);

    const answer = sut.deliver(request('m1', { signal: stop.signal }));
    await settle();
    stop.abort();
    await settle();
    events.completed('m1', SENT);

    await expect(answer).resolves.toEqual(SENT);
  });

  it('the watchdog adds a vanished job again under the same id and data; one still in Redis, or whose check failed, it leaves', async () => {
    const { sut, mocks, events } = newTestService();
    void sut.deliver(request('lost'));
    void sut.deliver(request('present'));
    void sut.deliver(request('unchecked'));
    await settle();
    mocks.pipeline.exec.mockResolvedValue([
      [null, 0],
      [null, 1],
      [new Error('LOADING'), null],
    ]);

    await events.watchdog();

    expect(mocks.pipeline.exists.mock.calls.map(([key]) => key)).toEqual([
      'bull:deliveries-email:lost',
      'bull:deliveries-email:present',
      'bull:deliveries-email:unchecked',
    ]);
    expect(mocks.email.add).toHaveBeenCalledTimes(4);
    const [first, again] = mocks.email.add.mock.calls.filter(([, , options]) => options?.jobId === 'lost');
    expect(again).toEqual(first);
  });

  it('the watchdog leaves a job that has waited less than its interval', async () => {
    const { sut, mocks } = newTestService();
    void sut.deliver(request('young'));
    await settle();

    await sut['checkPending']();

    expect(mocks.pipeline.exec).not.toHaveBeenCalled();
    expect(mocks.email.add).toHaveBeenCalledTimes(1);
  });

  it('a delivery whose add failed is not waited for: the add error is the answer and the watchdog never re-adds it', async () => {
    const { sut, mocks, events } = newTestService();
    mocks.email.add.mockRejectedValueOnce(new Error('Connection is closed.'));

    await expect(sut.deliver(request('m1'))).rejects.toThrow('Connection is closed.');
    await events.watchdog();

    expect(mocks.pipeline.exec).not.toHaveBeenCalled();
    expect(mocks.email.add).toHaveBeenCalledTimes(1);
  });

  it('reports a watchdog pass that cannot reach Redis, and tries again on the next', async () => {
    const { sut, mocks, events } = newTestService();
    void sut.deliver(request('m1'));
    await settle();
    const down = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    mocks.pipeline.exec.mockRejectedValueOnce(down).mockResolvedValueOnce([[null, 0]]);

    await events.watchdog();
    expect(mocks.errors.report).toHaveBeenCalledWith('watchdog', down);
    await events.watchdog();

    expect(mocks.email.add).toHaveBeenCalledTimes(2);
  });

  it('at shutdown, a caller still waiting gets an error instead of waiting forever', async () => {
    const { sut } = newTestService();
    const answer = sut.deliver(request('m1'));
    await settle();

    await sut.onModuleDestroy();

    await expect(answer).rejects.toThrow('the service shut down before the delivery reported back');
  });
});
