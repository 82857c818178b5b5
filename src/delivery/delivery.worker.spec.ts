import { Logger } from '@nestjs/common';
import { DelayedError, Job, Queue, Worker } from 'bullmq';
import { mock } from 'jest-mock-extended';
import { Counter, Histogram } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { RetryLater } from '../messaging/delivery-retry';
import { Channel, GeneratorKind, MessageType } from '../messaging/message.types';
import { DeliveryOutcome, DeliveryRequest, FailureReason, SkipReason } from '../messaging/reminder-delivery';
import { ReminderDeliveryStep } from '../messaging/reminder-delivery-step';
import { DELIVERY_QUEUES, DeliveryJobData, toJobData } from './delivery-jobs';
import { DeliveryWorkerDeps, DeliveryWorkers, EmailDeliveryWorker, SmsDeliveryWorker } from './delivery.worker';
import { QueueErrorLog } from './queue-error-log';
import { QueuedReminderDelivery } from './queued-reminder-delivery';

const MESSAGE_ID = '3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b';
const TOKEN = 'worker-lock-token';
const REQUEST: DeliveryRequest = {
  customer: {
    id: 'c1',
    name: 'Navid',
    email: 'navid@example.com',
    phone: null,
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
  campaign: { day: '2026-12-07', jobRunId: 'run-1', windowClosesAt: Date.now() + 3_600_000 },
};
const SENT: DeliveryOutcome = { status: 'sent', messageId: MESSAGE_ID, generator: GeneratorKind.Template, fallbackReason: null, subject: 's' };

function newTestWorker(channel = Channel.Email, env: Record<string, string> = {}) {
  const delivery = mock<ReminderDeliveryStep>();
  delivery.deliver.mockResolvedValue(SENT);
  delivery.settleInFlight.mockResolvedValue(2);
  const queue = mock<Queue>();
  const queues = mock<QueuedReminderDelivery>();
  queues.queue.mockReturnValue(queue);
  const latency = mock<Histogram<string>>();
  const rateLimitWaits = mock<Counter<string>>();
  const workers = new DeliveryWorkers();
  const config = new AppConfig(validateEnvironment({ WORKER_CONCURRENCY: '4', OPENAI_CONCURRENCY: '6', ...env }));
  const deps = new DeliveryWorkerDeps(delivery, mock<QueueErrorLog>(), config, latency, rateLimitWaits, queues, workers);
  const sut = channel === Channel.Email ? new EmailDeliveryWorker(deps) : new SmsDeliveryWorker(deps);
  // BullMQ's worker, which Nest's explorer would attach.
  const worker = mock<Worker>({ name: DELIVERY_QUEUES[channel] });
  worker.run.mockResolvedValue(undefined);
  jest.spyOn(sut, 'worker', 'get').mockReturnValue(worker);
  return { sut, mocks: { delivery, queues, queue, latency, rateLimitWaits, worker }, workers };
}

const newJob = (request: DeliveryRequest = REQUEST, enqueuedAt = Date.now() - 1_500) =>
  mock<Job<DeliveryJobData>>({ id: MESSAGE_ID, data: { ...toJobData(request), enqueuedAt }, attemptsMade: 0 });

describe('DeliveryWorker', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('runs the per-customer step with the job id as the message id, provider retries left to the queue, and answers its outcome', async () => {
    const { sut, mocks } = newTestWorker();

    const outcome = await sut.process(newJob(), TOKEN);

    expect(outcome).toEqual(SENT);
    expect(mocks.delivery.deliver).toHaveBeenCalledWith({ ...REQUEST, messageId: MESSAGE_ID, deferRetries: true });
    // Enqueue-to-sent latency, in seconds, per channel.
    expect(mocks.latency.observe).toHaveBeenCalledWith({ channel: Channel.Email }, expect.any(Number));
    expect((mocks.latency.observe.mock.calls[0] as unknown[])[1]).toBeGreaterThanOrEqual(1.5);
  });

  it.each<[string, DeliveryOutcome]>([
    ['skipped', { status: 'skipped', reason: SkipReason.OptedOut }],
    ['failed for good', { status: 'failed', messageId: MESSAGE_ID, reason: FailureReason.DeliveryFailed, error: '550 no such user' }],
  ])('a delivery %s is an answer, not a retry: the job completes with it and no latency is observed', async (_case, answer) => {
    const { sut, mocks } = newTestWorker();
    mocks.delivery.deliver.mockResolvedValue(answer);
    const job = newJob();

    await expect(sut.process(job, TOKEN)).resolves.toEqual(answer);
    expect(job.moveToDelayed).not.toHaveBeenCalled();
    expect(mocks.latency.observe).not.toHaveBeenCalled();
  });

  it("retries a failure about the recipient later by delaying only this job; the queue's other workers go on", async () => {
    const { sut, mocks } = newTestWorker();
    mocks.delivery.deliver.mockRejectedValue(new RetryLater(30_000, false, '452 mailbox full'));
    const job = newJob();
    const before = Date.now();

    await expect(sut.process(job, TOKEN)).rejects.toBeInstanceOf(DelayedError);

    const [until, token] = job.moveToDelayed.mock.calls[0];
    expect(token).toBe(TOKEN);
    expect(until).toBeGreaterThanOrEqual(before + 30_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(mocks.queue.rateLimit).not.toHaveBeenCalled();
    expect(mocks.rateLimitWaits.inc).not.toHaveBeenCalled();
  });

  it.each([Channel.Email, Channel.Sms])(
    'the provider failing 3 times in a row on %s rate-limits the whole queue for as long; each job is delayed too',
    async (channel) => {
      const { sut, mocks } = newTestWorker(channel);
      mocks.delivery.deliver.mockRejectedValue(new RetryLater(60_000, true, '421 too many connections'));
      const jobs = [newJob({ ...REQUEST, channel }), newJob({ ...REQUEST, channel }), newJob({ ...REQUEST, channel })];

      for (const job of jobs.slice(0, 2)) await expect(sut.process(job, TOKEN)).rejects.toBeInstanceOf(DelayedError);
      // Two in a row: only those jobs wait.
      expect(mocks.queue.rateLimit).not.toHaveBeenCalled();
      await expect(sut.process(jobs[2], TOKEN)).rejects.toBeInstanceOf(DelayedError);

      expect(mocks.queues.queue).toHaveBeenCalledWith(channel);
      expect(mocks.queue.rateLimit).toHaveBeenCalledWith(60_000);
      expect(mocks.rateLimitWaits.inc).toHaveBeenCalledWith({ queue: DELIVERY_QUEUES[channel] });
      for (const job of jobs) expect(job.moveToDelayed).toHaveBeenCalledWith(expect.any(Number), TOKEN);
      expect(mocks.queue.rateLimit.mock.invocationCallOrder[0]).toBeLessThan(jobs[2].moveToDelayed.mock.invocationCallOrder[0]);
    },
  );

  it('a send between provider-wide failures starts the count again: one 421 in many sends is not an outage', async () => {
    const { sut, mocks } = newTestWorker();
    const throttled = new RetryLater(60_000, true, '421 try again later');
    for (const answer of [throttled, throttled, SENT, throttled, throttled]) {
      if (answer instanceof RetryLater) mocks.delivery.deliver.mockRejectedValueOnce(answer);
      else mocks.delivery.deliver.mockResolvedValueOnce(answer);
      await sut.process(newJob(), TOKEN).catch(() => undefined);
    }
    expect(mocks.queue.rateLimit).not.toHaveBeenCalled();

    mocks.delivery.deliver.mockRejectedValueOnce(throttled);
    await expect(sut.process(newJob(), TOKEN)).rejects.toBeInstanceOf(DelayedError);
    expect(mocks.queue.rateLimit).toHaveBeenCalledTimes(1);
  });

  it("gives any other error back to BullMQ as it is: the job's own attempts decide, and it is not delayed here", async () => {
    const { sut, mocks } = newTestWorker();
    const broken = new Error('connection terminated unexpectedly');
    mocks.delivery.deliver.mockRejectedValue(broken);
    const job = newJob();

    await expect(sut.process(job, TOKEN)).rejects.toBe(broken);
    expect(job.moveToDelayed).not.toHaveBeenCalled();
    expect(mocks.queue.rateLimit).not.toHaveBeenCalled();
  });

  it.each([
    [Channel.Email, {}, 4],
    [Channel.Email, { OPENAI_API_KEY: 'sk-test-0123456789' }, 10],
    [Channel.Sms, {}, 4],
    [Channel.Sms, { OPENAI_API_KEY: 'sk-test-0123456789' }, 10],
  ])('takes WORKER_CONCURRENCY jobs on %s, plus OPENAI_CONCURRENCY for drafts with an LLM (%o) → %d', (channel, env, concurrency) => {
    const { sut, mocks } = newTestWorker(channel, env);
    sut.onApplicationBootstrap();
    expect(mocks.worker.concurrency).toBe(concurrency);
    expect(mocks.worker.run).toHaveBeenCalledTimes(1);
  });

  describe('stop', () => {
    it('takes no more jobs, lets those in flight finish within the grace, and settles nothing', async () => {
      const { sut, mocks } = newTestWorker();
      let finish: (outcome: DeliveryOutcome) => void = () => undefined;
      mocks.delivery.deliver.mockReturnValue(new Promise((resolve) => (finish = resolve)));
      const job = sut.process(newJob(), TOKEN);

      const stopping = sut.stop(1_000);
      finish(SENT);
      await stopping;

      await expect(job).resolves.toEqual(SENT);
      expect(mocks.worker.pause).toHaveBeenCalledWith(true);
      expect(mocks.delivery.settleInFlight).not.toHaveBeenCalled();
      expect(mocks.worker.close).toHaveBeenCalledWith(true);
    });

    it('settles the deliveries still running after the grace (queued released, sending unknown), then closes', async () => {
      const { sut, mocks } = newTestWorker();
      mocks.delivery.deliver.mockReturnValue(new Promise(() => undefined));
      void sut.process(newJob(), TOKEN);

      await sut.stop(50);

      expect(mocks.worker.pause.mock.invocationCallOrder[0]).toBeLessThan(mocks.delivery.settleInFlight.mock.invocationCallOrder[0]);
      expect(mocks.delivery.settleInFlight.mock.invocationCallOrder[0]).toBeLessThan(mocks.worker.close.mock.invocationCallOrder[0]);
      expect(mocks.worker.close).toHaveBeenCalledWith(true);
    });

    it('DeliveryWorkers stops every worker of the process and names the first one that cannot take jobs', async () => {
      const email = newTestWorker(Channel.Email);
      const sms = newTestWorker(Channel.Sms);
      const workers = new DeliveryWorkers();
      workers.add(email.sut);
      workers.add(sms.sut);
      email.mocks.worker.isRunning.mockReturnValue(true);
      Object.assign(email.mocks.worker, { client: Promise.resolve({ status: 'ready' }) });
      sms.mocks.worker.isRunning.mockReturnValue(false);

      await expect(workers.queueProblem()).resolves.toBe('deliveries-sms worker is not running');
      await workers.stop(10);
      expect(email.mocks.worker.close).toHaveBeenCalled();
      expect(sms.mocks.worker.close).toHaveBeenCalled();
      expect(workers.consuming).toBe(true);
    });
  });
});
