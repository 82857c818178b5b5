import { Logger } from '@nestjs/common';
import { mock } from 'jest-mock-extended';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { DeliveryFanOut, FanOutItem, FanOutOptions, FanOutOutcome, FanOutResult } from '../delivery/delivery-fan-out';
import { campaignMessageId } from '../delivery/delivery-jobs';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { DeliveryStatus } from '../messaging/delivery-status';
import { Channel, GeneratorKind, MessageType } from '../messaging/message.types';
import { FailureReason, SkipReason } from '../messaging/reminder-delivery';
import { CustomerProfile } from '../segmentation/customer-profile';
import { CustomerRepository } from '../segmentation/customer.repository';
import { EligibilityCursor, EligibleCustomerRepository } from '../segmentation/eligible-customer.repository';
import { ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { ExperimentsService } from '../experiments/experiments.service';
import { CampaignPreset } from './campaign-presets';
import { CampaignRunner, RunAttempt } from './campaign-runner';
import { CampaignPlan } from './campaign.types';
import { JobRunStatus } from './job-run.entity';
import { JobRunRepository, ProducerWrite, RunCounts, RunState } from './job-run.repository';
import { ShutdownError } from './shutdown.service';

const RUN_ID = '6f1d2c3b-4a5e-4f60-8a71-92b3c4d5e6f7';
const LEASE = 'lease-token';
const SERVICE: ServiceInfo = { id: 'svc-1', name: 'Plumbing', nameBn: 'প্লাম্বিং', emoji: '🔧' };
const PLAN: CampaignPlan = {
  preset: CampaignPreset.Default,
  bookingCadenceDays: 21,
  offer: null,
  // Always open, whatever hour the spec runs.
  sendWindow: { startHour: 0, endHour: 24 },
  batchSize: 50,
  dryRun: false,
  messageType: MessageType.Reminder,
  channel: Channel.Email,
  experiment: null,
};
const CURSOR: EligibilityCursor = { lastBookingAt: '2026-10-01T00:00:00.000Z', id: 'c3' };
const RUNNING: RunState = { status: JobRunStatus.Running, error: null };

const customer = (id: string, serviceId: string | null = SERVICE.id): CustomerProfile => ({
  id,
  name: id,
  email: `${id}@example.com`,
  phone: null,
  lastBookingAt: new Date('2026-10-01T00:00:00Z'),
  lastBookingServiceId: serviceId,
  totalBookings: 1,
  optedOutAt: null,
});
const sent = (id: string): FanOutOutcome => ({
  status: 'sent',
  messageId: `m-${id}`,
  generator: GeneratorKind.Template,
  fallbackReason: null,
  subject: 's',
});
const failed = (reason: FailureReason): FanOutOutcome => ({ status: 'failed', messageId: 'm', reason, error: 'SMTP 451' });
const SHUTTING_DOWN: FanOutOutcome = { status: 'skipped', reason: SkipReason.ShuttingDown };

/** Answers a page as the real fan-out does: in order, and `shutting_down` for every customer once the run stops. */
const fanOutAnswering =
  (outcomeOf: (customerId: string) => FanOutOutcome, afterEach?: (customerId: string, signal: AbortSignal) => Promise<void> | void) =>
  async (items: readonly FanOutItem[], { signal, onResult }: FanOutOptions): Promise<FanOutResult[]> => {
    const results: FanOutResult[] = [];
    for (const item of items) {
      const outcome: FanOutOutcome = signal?.aborted
        ? SHUTTING_DOWN
        : 'skip' in item
          ? { status: 'skipped', reason: item.skip }
          : outcomeOf(item.customerId);
      const result = { customerId: item.customerId, outcome };
      onResult?.(result);
      results.push(result);
      if (signal && !signal.aborted) await afterEach?.(item.customerId, signal);
    }
    return results;
  };

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

function newTestService(env: Record<string, string> = {}) {
  const eligibleCustomers = mock<EligibleCustomerRepository>();
  eligibleCustomers.countEligible.mockResolvedValue(3);
  const services = mock<ServiceRepository>();
  services.findByIds.mockImplementation(async (ids) => new Map(ids.filter((id) => id === SERVICE.id).map((id) => [id, SERVICE])));
  const customers = mock<CustomerRepository>();
  const fanOut = mock<DeliveryFanOut>();
  fanOut.campaignPace.mockReturnValue({ pageSize: 50, concurrency: 1 });
  fanOut.deliverAll.mockImplementation(fanOutAnswering(sent));
  const jobRuns = mock<JobRunRepository>();
  jobRuns.heartbeat.mockResolvedValue(RUNNING);
  jobRuns.finish.mockImplementation(async (_write, status, error) => ({ status, error: error ?? null }));
  jobRuns.transition.mockResolvedValue(null);
  const messages = mock<AiMessageRepository>();
  messages.deliveryStatusesOf.mockResolvedValue(new Map());
  messages.findQueuedCustomersOfRun.mockResolvedValue([]);
  const experiments = mock<ExperimentsService>();
  const autoPauses = mock<Counter<string>>();
  const config = new AppConfig(validateEnvironment({ SHUTDOWN_GRACE_SECONDS: '1', ...env }));
  const sut = new CampaignRunner(eligibleCustomers, services, customers, fanOut, jobRuns, experiments, messages, config, autoPauses);
  return { sut, mocks: { eligibleCustomers, services, customers, fanOut, jobRuns, experiments, messages, autoPauses } };
}

const attempt = (over: Partial<RunAttempt> = {}): RunAttempt => ({
  plan: PLAN,
  jobRunId: RUN_ID,
  correlationId: 'corr-1',
  leaseToken: LEASE,
  stop: new AbortController().signal,
  ...over,
});

/** The write the run ended with: its status, reason and the row's counts and resume state. */
const finalWrite = (jobRuns: ReturnType<typeof newTestService>['mocks']['jobRuns']) => {
  expect(jobRuns.finish).toHaveBeenCalledTimes(1);
  const [write, status, error] = jobRuns.finish.mock.calls[0];
  return { write: structuredClone(write) as ProducerWrite, status, error };
};

const counts = (over: Partial<RunCounts>): RunCounts => ({ totalEligible: 3, processed: 0, sent: 0, failed: 0, skipped: 0, unknown: 0, ...over });

describe(CampaignRunner.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('pages by cursor until the last page, counting every customer once, and ends DONE', async () => {
    const { sut, mocks } = newTestService();
    mocks.eligibleCustomers.page
      .mockResolvedValueOnce({ customers: [customer('c1'), customer('c2')], next: CURSOR })
      .mockResolvedValueOnce({ customers: [customer('c3')], next: null });

    const report = await sut.run(attempt());

    expect(mocks.eligibleCustomers.page.mock.calls.map(([, cursor]) => cursor)).toEqual([null, CURSOR]);
    expect(report).toMatchObject({ status: 'DONE', counts: counts({ processed: 3, sent: 3 }), resultsTruncated: false });
    expect(report.results.map((r) => r.customerId)).toEqual(['c1', 'c2', 'c3']);
    const { status, write } = finalWrite(mocks.jobRuns);
    expect(status).toBe(JobRunStatus.Done);
    expect(write).toMatchObject({ id: RUN_ID, leaseToken: LEASE, inFlight: 0, counts: counts({ processed: 3, sent: 3 }) });
  });

  it("skips a customer whose last booking's service is unknown, and hands the rest a stable message id per run and customer", async () => {
    const { sut, mocks } = newTestService();
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c1'), customer('c2', null), customer('c3', 'gone')], next: null });

    const report = await sut.run(attempt());

    const [items] = mocks.fanOut.deliverAll.mock.calls[0];
    expect(items[1]).toEqual({ customerId: 'c2', skip: SkipReason.NoBookingHistory });
    expect(items[2]).toEqual({ customerId: 'c3', skip: SkipReason.NoBookingHistory });
    expect(items[0]).toMatchObject({
      customerId: 'c1',
      request: { service: SERVICE, channel: Channel.Email, bypassFrequencyCap: false, messageId: campaignMessageId(RUN_ID, Channel.Email, 'c1') },
    });
    expect(report.counts).toEqual(counts({ processed: 3, sent: 1, skipped: 2 }));
    expect(report.results[1]).toMatchObject({ customerId: 'c2', success: false, reason: SkipReason.NoBookingHistory });
  });

  it('counts a delivery_unknown failure as unknown, not failed, and a delivery that threw by what its row says', async () => {
    const { sut, mocks } = newTestService();
    const ids = ['ok', 'bad', 'maybe', 'threw-sent', 'threw-sending', 'threw-failed'];
    mocks.eligibleCustomers.countEligible.mockResolvedValue(ids.length);
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: ids.map((id) => customer(id)), next: null });
    mocks.fanOut.deliverAll.mockImplementation(
      fanOutAnswering((id) =>
        id === 'ok'
          ? sent(id)
          : id === 'bad'
            ? failed(FailureReason.DeliveryFailed)
            : id === 'maybe'
              ? failed(FailureReason.DeliveryUnknown)
              : { status: 'error', error: 'connection terminated' },
      ),
    );
    const row = (id: string) => campaignMessageId(RUN_ID, Channel.Email, id);
    mocks.messages.deliveryStatusesOf.mockResolvedValue(
      new Map([
        [row('threw-sent'), DeliveryStatus.Sent],
        [row('threw-sending'), DeliveryStatus.Sending],
        [row('threw-failed'), DeliveryStatus.Failed],
      ]),
    );

    const report = await sut.run(attempt());

    expect(mocks.messages.deliveryStatusesOf).toHaveBeenCalledWith([row('threw-sent'), row('threw-sending'), row('threw-failed')]);
    const expected = counts({ totalEligible: 6, processed: 6, sent: 2, failed: 2, unknown: 2 });
    expect(report.counts).toEqual(expected);
    expect(finalWrite(mocks.jobRuns).write.counts).toEqual(expected);
  });

  it('keeps a thrown delivery counted failed when its row cannot be read', async () => {
    const { sut, mocks } = newTestService();
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c1')], next: null });
    mocks.fanOut.deliverAll.mockImplementation(fanOutAnswering(() => ({ status: 'error', error: 'boom' })));
    mocks.messages.deliveryStatusesOf.mockRejectedValue(new Error('database unreachable'));

    const report = await sut.run(attempt());

    expect(report).toMatchObject({ status: 'DONE', counts: counts({ processed: 1, failed: 1 }) });
  });

  it('a pause stops the page in progress: no further customer starts, and the row keeps the page cursor and who was counted', async () => {
    const { sut, mocks } = newTestService();
    mocks.eligibleCustomers.page
      .mockResolvedValueOnce({ customers: [customer('c1'), customer('c2')], next: CURSOR })
      .mockResolvedValueOnce({ customers: [customer('c3'), customer('c4'), customer('c5')], next: null });
    let paused = false;
    mocks.jobRuns.heartbeat.mockImplementation(async () => (paused ? { status: JobRunStatus.Paused, error: 'paused by an operator' } : RUNNING));
    mocks.fanOut.deliverAll.mockImplementation(
      fanOutAnswering(sent, async (id, signal) => {
        if (id !== 'c3') return;
        paused = true; // from another replica: the next heartbeat reads it back
        await untilAborted(signal);
      }),
    );

    const report = await sut.run(attempt());

    expect(report).toMatchObject({ status: 'PAUSED', error: 'paused by an operator' });
    expect(report.counts).toEqual(counts({ processed: 3, sent: 3 }));
    expect(mocks.eligibleCustomers.page).toHaveBeenCalledTimes(2);
    const { status, error, write } = finalWrite(mocks.jobRuns);
    expect([status, error]).toEqual([JobRunStatus.Paused, 'paused by an operator']);
    // c4 and c5 answered shutting_down: not processed, and the page is read again on resume.
    expect(write).toMatchObject({ inFlight: 0, counts: counts({ processed: 3, sent: 3 }) });
    expect(write.resumeState).toMatchObject({ cursor: CURSOR, counted: ['c3'] });
  });

  it('a resumed run keeps its criteria, counts and campaign day, and skips the customers of the page it already counted', async () => {
    const { sut, mocks } = newTestService();
    const startedAt = new Date(Date.now() - 3_600_000);
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c3'), customer('c4'), customer('c5')], next: null });

    const report = await sut.run(
      attempt({
        resume: {
          startedAt,
          counts: counts({ totalEligible: 5, processed: 3, sent: 2, skipped: 1 }),
          state: { campaignDay: '2026-12-01', cursor: CURSOR, counted: ['c3'] },
        },
      }),
    );

    expect(mocks.eligibleCustomers.countEligible).not.toHaveBeenCalled();
    const [criteria, cursor] = mocks.eligibleCustomers.page.mock.calls[0];
    expect(cursor).toEqual(CURSOR);
    expect(criteria.now).toEqual(startedAt);
    expect(criteria.bookedBefore).toEqual(new Date(startedAt.getTime() - PLAN.bookingCadenceDays * 86_400_000));
    const [items] = mocks.fanOut.deliverAll.mock.calls[0];
    expect(items.map((i) => i.customerId)).toEqual(['c4', 'c5']);
    expect(items[0]).toMatchObject({ request: { campaign: { day: '2026-12-01', jobRunId: RUN_ID } } });
    expect(report).toMatchObject({ status: 'DONE', counts: counts({ totalEligible: 5, processed: 5, sent: 4, skipped: 1 }) });
  });

  it('a resumed run also retries the customers whose message was waiting for its retry, under the same message ids', async () => {
    const { sut, mocks } = newTestService();
    // Their claim took them out of the eligible customers: no page has them.
    mocks.messages.findQueuedCustomersOfRun.mockResolvedValue(['w1', 'c3']);
    mocks.customers.findProfiles.mockImplementation(async (ids) => ids.map((id) => customer(id)));
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c3'), customer('c4')], next: null });

    const report = await sut.run(
      attempt({
        resume: {
          startedAt: new Date(),
          counts: counts({ totalEligible: 4, processed: 1, sent: 1 }),
          state: { campaignDay: '2026-12-07', cursor: CURSOR, counted: ['c3'] },
        },
      }),
    );

    expect(mocks.messages.findQueuedCustomersOfRun).toHaveBeenCalledWith(RUN_ID);
    // c3 was counted before the pause: neither retried nor delivered again.
    expect(mocks.customers.findProfiles).toHaveBeenCalledWith(['w1']);
    const handed = mocks.fanOut.deliverAll.mock.calls.flatMap(([items]) => items);
    expect(handed.map((item) => item.customerId).sort()).toEqual(['c4', 'w1']);
    expect(handed.find((item) => item.customerId === 'w1')).toMatchObject({
      request: { messageId: campaignMessageId(RUN_ID, Channel.Email, 'w1') },
    });
    expect(report).toMatchObject({ status: 'DONE', counts: counts({ totalEligible: 4, processed: 3, sent: 3 }) });
  });

  it('pauses itself when the failure window trips: the row turns PAUSED at once and no further customer starts', async () => {
    const { sut, mocks } = newTestService({ AUTO_PAUSE_WINDOW: '2', AUTO_PAUSE_FAILURE_RATIO: '0.5' });
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: ['c1', 'c2', 'c3', 'c4'].map((id) => customer(id)), next: null });
    mocks.fanOut.deliverAll.mockImplementation(fanOutAnswering(() => failed(FailureReason.DeliveryFailed)));

    const report = await sut.run(attempt());

    const reason = 'auto-paused: 2 of the last 2 deliveries failed (last error: SMTP 451)';
    expect(mocks.jobRuns.transition).toHaveBeenCalledWith(RUN_ID, [JobRunStatus.Running], JobRunStatus.Paused, reason, LEASE);
    expect(mocks.autoPauses.inc).toHaveBeenCalledTimes(1);
    expect(report).toMatchObject({ status: 'PAUSED', error: reason, counts: counts({ totalEligible: 3, processed: 2, failed: 2 }) });
    expect(finalWrite(mocks.jobRuns)).toMatchObject({ status: JobRunStatus.Paused, error: reason });
  });

  it('skips do not count toward the auto-pause: only deliveries do', async () => {
    const { sut, mocks } = newTestService({ AUTO_PAUSE_WINDOW: '2', AUTO_PAUSE_FAILURE_RATIO: '0.5' });
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c1', null), customer('c2', null), customer('c3')], next: null });
    mocks.fanOut.deliverAll.mockImplementation(fanOutAnswering(() => failed(FailureReason.DeliveryFailed)));

    const report = await sut.run(attempt());

    expect(mocks.jobRuns.transition).not.toHaveBeenCalled();
    expect(report).toMatchObject({ status: 'DONE', counts: counts({ processed: 3, skipped: 2, failed: 1 }) });
  });

  it.each([
    ['shutdown', 'INTERRUPTED', 'interrupted: the service is shutting down, after 1 customers', new ShutdownError()],
    ['a lost lease', 'FAILED', 'failed: the campaign lock was lost, after 1 customers', new Error('the campaign lock was lost')],
  ] as const)('stopped by %s mid-page, it records %s with the counts so far', async (_case, status, error, why) => {
    const { sut, mocks } = newTestService();
    const stop = new AbortController();
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c1'), customer('c2')], next: CURSOR });
    mocks.fanOut.deliverAll.mockImplementation(fanOutAnswering(sent, () => stop.abort(why)));

    const report = await sut.run(attempt({ stop: stop.signal }));

    expect(report).toMatchObject({ status, error, counts: counts({ processed: 1, sent: 1 }) });
    expect(mocks.eligibleCustomers.page).toHaveBeenCalledTimes(1);
    const write = finalWrite(mocks.jobRuns);
    expect([write.status, write.error]).toEqual([status, error]);
    expect(write.write.resumeState).toMatchObject({ cursor: null, counted: ['c1'] });
  });

  it('answers with the status the row ended in when it was cancelled as its last page finished', async () => {
    const { sut, mocks } = newTestService();
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c1')], next: null });
    mocks.jobRuns.finish.mockResolvedValue({ status: JobRunStatus.Cancelled, error: 'cancelled by an operator' });

    const report = await sut.run(attempt());

    expect(report).toMatchObject({ status: 'CANCELLED', error: 'cancelled by an operator' });
  });

  it('stops before a page when the send window has closed, and records DONE with why', async () => {
    const { sut, mocks } = newTestService();
    const closed = { ...PLAN, sendWindow: { startHour: 5, endHour: 5 } };

    const report = await sut.run(attempt({ plan: closed }));

    expect(mocks.eligibleCustomers.page).not.toHaveBeenCalled();
    expect(report).toMatchObject({ status: 'DONE', error: 'stopped: the send window closed after 0 customers' });
    expect(finalWrite(mocks.jobRuns)).toMatchObject({ status: JobRunStatus.Done, error: 'stopped: the send window closed after 0 customers' });
  });

  it('a dry run delivers nothing and ignores the window: every customer is processed as dry_run', async () => {
    const { sut, mocks } = newTestService();
    mocks.eligibleCustomers.page.mockResolvedValueOnce({ customers: [customer('c1'), customer('c2')], next: null });

    const report = await sut.run(attempt({ plan: { ...PLAN, dryRun: true, sendWindow: { startHour: 5, endHour: 5 } }, leaseToken: null }));

    expect(mocks.fanOut.deliverAll).not.toHaveBeenCalled();
    expect(report).toMatchObject({ status: 'DONE', counts: counts({ processed: 2 }) });
    expect(report.results).toEqual([
      { customerId: 'c1', success: false, reason: 'dry_run' },
      { customerId: 'c2', success: false, reason: 'dry_run' },
    ]);
  });

  it('a run that throws is recorded FAILED with its message and the counts so far', async () => {
    const { sut, mocks } = newTestService();
    mocks.eligibleCustomers.page
      .mockResolvedValueOnce({ customers: [customer('c1')], next: CURSOR })
      .mockRejectedValueOnce(new Error('relation "customers" does not exist'));

    const report = await sut.run(attempt());

    expect(report).toMatchObject({ status: 'FAILED', error: 'relation "customers" does not exist', counts: counts({ processed: 1, sent: 1 }) });
    expect(finalWrite(mocks.jobRuns)).toMatchObject({ status: JobRunStatus.Failed, error: 'relation "customers" does not exist' });
  });
});
