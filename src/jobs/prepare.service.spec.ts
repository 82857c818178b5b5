import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { AppException, ErrorCode } from '../common/app.exception';
import { LockHolder } from '../database/lock-lease.repository';
import { Lease, LockService } from '../database/lock.service';
import { Channel, MessageType } from '../messaging/message.types';
import { BatchSubmission } from '../messaging/openai-batches';
import { PreparedDrafts } from '../messaging/prepared-drafts.service';
import { CustomerProfile } from '../segmentation/customer-profile';
import { CustomerRepository } from '../segmentation/customer.repository';
import { EligibleCustomerRepository } from '../segmentation/eligible-customer.repository';
import { ServiceRepository } from '../segmentation/service.repository';
import { CampaignPreset } from './campaign-presets';
import { CampaignService } from './campaign.service';
import { CampaignPlan } from './campaign.types';
import { JobRunEntity, JobRunStatus, JobTrigger } from './job-run.entity';
import { JobRunRepository } from './job-run.repository';
import { PREPARE_JOB_NAME, PrepareService } from './prepare.service';
import { ShutdownService } from './shutdown.service';

const PLAN: CampaignPlan = {
  preset: CampaignPreset.Default,
  bookingCadenceDays: 21,
  offer: null,
  sendWindow: { startHour: 0, endHour: 24 },
  batchSize: 50,
  dryRun: false,
  messageType: MessageType.Reminder,
  channel: Channel.Email,
  experiment: null,
};
const SERVICE = { id: 's1', name: 'Plumbing', nameBn: 'প্লাম্বিং', emoji: '🔧' };
const LEASE = { holder: 'replica-a:7', token: 'lease-1', acquiredAt: new Date(), signal: new AbortController().signal } as Lease;
const customer = (id: string, serviceId: string | null = SERVICE.id): CustomerProfile => ({
  id,
  name: id,
  email: `${id}@example.com`,
  phone: null,
  lastBookingAt: new Date(Date.now() - 22 * 86_400_000),
  lastBookingServiceId: serviceId,
  totalBookings: 2,
  optedOutAt: null,
});

function newTestService(env: Record<string, string> = {}) {
  const campaigns = mock<CampaignService>();
  campaigns.plan.mockResolvedValue(PLAN);
  const prepared = mock<PreparedDrafts>({ enabled: true, batched: env.OPENAI_BATCH === 'true' });
  prepared.deleteExpired.mockResolvedValue(0);
  prepared.draftLive.mockImplementation(async (targets) => ({ drafted: targets.length, failed: 0, skipped: 0 }));
  const eligible = mock<EligibleCustomerRepository>();
  eligible.countEligible.mockResolvedValue(3);
  eligible.page
    .mockResolvedValueOnce({ customers: [customer('c1'), customer('c2', null)], next: { lastBookingAt: 'x', id: 'c2' } })
    .mockResolvedValueOnce({ customers: [customer('c3')], next: null });
  const services = mock<ServiceRepository>();
  services.findByIds.mockResolvedValue(new Map([[SERVICE.id, SERVICE]]));
  const customers = mock<CustomerRepository>();
  const locks = mock<LockService>();
  locks.tryLock.mockImplementation(async (_id, fn) => ({ acquired: true, result: await fn(LEASE) }));
  const jobRuns = mock<JobRunRepository>();
  jobRuns.findRunning.mockResolvedValue([]);
  jobRuns.findUncollectedBatches.mockResolvedValue([]);
  jobRuns.settleAbandoned.mockResolvedValue(0);
  jobRuns.start.mockResolvedValue({ id: 'run-1', correlationId: 'c' } as JobRunEntity);
  jobRuns.progress.mockResolvedValue(JobRunStatus.Running);
  const shutdown = new ShutdownService({ shutdownGraceMs: 0 } as AppConfig);
  const config = new AppConfig(validateEnvironment({ OPENAI_API_KEY: 'k', OPENAI_CONCURRENCY: '10', ...env }));
  const sut = new PrepareService(campaigns, prepared, eligible, services, customers, locks, jobRuns, shutdown, config);
  return { sut, mocks: { campaigns, prepared, eligible, customers, locks, jobRuns } };
}

async function run(sut: PrepareService) {
  const started = await sut.start(PLAN, JobTrigger.Manual);
  if (started.kind !== 'started') throw new Error(`not started: ${started.kind}`);
  await started.done;
  return started;
}

describe(PrepareService.name, () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  describe('plan', () => {
    it('refuses with LLM_NOT_CONFIGURED when no LLM is configured', async () => {
      const { sut, mocks } = newTestService();
      Object.defineProperty(mocks.prepared, 'enabled', { value: false });

      await expect(sut.plan({})).rejects.toMatchObject({ code: ErrorCode.LlmNotConfigured });
      expect(mocks.campaigns.plan).not.toHaveBeenCalled();
    });

    it('refuses an SMS prepare, naming channel', async () => {
      const { sut, mocks } = newTestService();
      mocks.campaigns.plan.mockResolvedValue({ ...PLAN, channel: Channel.Sms });

      const error = await sut.plan({ channel: Channel.Sms }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppException);
      expect((error as AppException).errors).toEqual([{ field: 'channel', message: expect.any(String) }]);
    });
  });

  it('writes its row under the prepare lock and drafts each page live; customers without a booked service are skipped', async () => {
    const { sut, mocks } = newTestService();

    const started = await run(sut);

    expect(started.row.id).toBe('run-1');
    expect(mocks.locks.tryLock).toHaveBeenCalledWith(expect.any(Number), expect.any(Function));
    expect(mocks.jobRuns.start).toHaveBeenCalledWith(expect.objectContaining({ jobName: PREPARE_JOB_NAME, trigger: JobTrigger.Manual }), LEASE);
    expect(mocks.prepared.deleteExpired).toHaveBeenCalled();
    expect(mocks.prepared.draftLive).toHaveBeenCalledTimes(2);
    const [[firstPage, options]] = mocks.prepared.draftLive.mock.calls;
    expect(firstPage.map((target) => target.customer.id)).toEqual(['c1']);
    expect(options).toMatchObject({ channel: Channel.Email, messageType: MessageType.Reminder, sendDay: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    // Pages keep OPENAI_CONCURRENCY busy, never fewer than the plan's batch.
    expect(mocks.eligible.page).toHaveBeenCalledWith(expect.objectContaining({ channel: Channel.Email }), null, 50);
    expect(mocks.jobRuns.end).toHaveBeenCalledWith(
      'run-1',
      'lease-1',
      { totalEligible: 3, processed: 3, sent: 2, failed: 0, skipped: 1, unknown: 0 },
      JobRunStatus.Done,
    );
  });

  it('with OPENAI_BATCH, adds every page to the Batch API submission, keeps the batch ids on the run, and collects them', async () => {
    const { sut, mocks } = newTestService({ OPENAI_BATCH: 'true' });
    const submission = mock<BatchSubmission>({ lines: 2 });
    let submitted: (batchIds: string[]) => Promise<void> = async () => undefined;
    mocks.prepared.openBatch.mockImplementation((_options, onSubmitted) => ((submitted = onSubmitted), submission));
    mocks.prepared.addToBatch.mockResolvedValue(0);
    submission.finish.mockImplementation(async () => (await submitted(['batch_1']), ['batch_1']));
    mocks.prepared.collectBatches.mockResolvedValue(1);

    await run(sut);

    expect(mocks.prepared.draftLive).not.toHaveBeenCalled();
    expect(mocks.prepared.addToBatch.mock.calls.map(([, targets]) => targets.map((target) => target.customer.id))).toEqual([['c1'], ['c3']]);
    expect(mocks.prepared.collectBatches).toHaveBeenCalledWith(['batch_1'], expect.any(Object), expect.any(Function));
    expect(mocks.jobRuns.keepParams).toHaveBeenCalledWith('run-1', { batch_ids: ['batch_1'] });
    expect(submission.discard).toHaveBeenCalled();
    expect(mocks.jobRuns.end).toHaveBeenCalledWith(
      'run-1',
      'lease-1',
      expect.objectContaining({ processed: 3, sent: 1, failed: 1, skipped: 1 }),
      JobRunStatus.Done,
    );
  });

  it('first collects the batches an earlier prepare left uncollected, for the customers as they are now', async () => {
    const { sut, mocks } = newTestService({ OPENAI_BATCH: 'true' });
    const future = new Date(Date.now() + 3_600_000).toISOString();
    mocks.jobRuns.findUncollectedBatches.mockResolvedValue([
      { id: 'run-0', params: { batch_ids: ['batch_0'], send_day: '2026-11-24', send_at: new Date().toISOString(), expires_at: future } },
      { id: 'run-old', params: { batch_ids: ['batch_old'], send_day: '2026-11-01', send_at: '2026-11-01T03:00:00Z', expires_at: '2026-11-01T12:00:00Z' } },
    ]);
    mocks.customers.findProfiles.mockResolvedValue([customer('c1')]);
    mocks.prepared.collectBatches.mockImplementationOnce(async (_ids, _options, targetsOf) => {
      expect((await targetsOf(['c1'])).map((target) => target.customer.id)).toEqual(['c1']);
      return 1;
    });
    const submission = mock<BatchSubmission>({ lines: 1 });
    submission.finish.mockResolvedValue(['batch_1']);
    mocks.prepared.openBatch.mockReturnValue(submission);
    mocks.prepared.addToBatch.mockResolvedValue(0);
    mocks.prepared.collectBatches.mockResolvedValueOnce(1);

    await run(sut);

    expect(mocks.prepared.collectBatches).toHaveBeenCalledTimes(2);
    expect(mocks.prepared.collectBatches).toHaveBeenNthCalledWith(1, ['batch_0'], expect.objectContaining({ sendDay: '2026-11-24' }), expect.any(Function));
    // The expired one is past use: marked, not collected.
    expect(mocks.jobRuns.markBatchesCollected.mock.calls).toEqual([['run-0'], ['run-old']]);
    expect(mocks.jobRuns.end).toHaveBeenCalledWith('run-1', 'lease-1', expect.objectContaining({ sent: 2 }), JobRunStatus.Done);
  });

  it("goes on when an earlier prepare's batches cannot be read, and does not try them again", async () => {
    const { sut, mocks } = newTestService();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    mocks.jobRuns.findUncollectedBatches.mockResolvedValue([
      { id: 'run-0', params: { batch_ids: ['batch_gone'], send_day: '2026-11-24', send_at: new Date().toISOString(), expires_at: future } },
    ]);
    mocks.prepared.collectBatches.mockRejectedValueOnce(new Error('404 No such File object: file-abc'));
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

    await run(sut);

    expect(mocks.jobRuns.markBatchesCollected).toHaveBeenCalledWith('run-0');
    expect(mocks.jobRuns.end).toHaveBeenCalledWith('run-1', 'lease-1', expect.objectContaining({ sent: 2 }), JobRunStatus.Done);
  });

  it('stops at the next page when run control cancelled the run', async () => {
    const { sut, mocks } = newTestService();
    mocks.jobRuns.progress.mockResolvedValue(JobRunStatus.Cancelled);

    await run(sut);

    expect(mocks.prepared.draftLive).toHaveBeenCalledTimes(1);
    expect(mocks.jobRuns.end).toHaveBeenCalledWith('run-1', 'lease-1', expect.objectContaining({ sent: 1 }), JobRunStatus.Cancelled);
  });

  it('records FAILED with the reason when drafting breaks off', async () => {
    const { sut, mocks } = newTestService();
    mocks.prepared.draftLive.mockRejectedValue(new Error('database went away'));

    await run(sut);

    expect(mocks.jobRuns.end).toHaveBeenCalledWith('run-1', 'lease-1', expect.any(Object), JobRunStatus.Failed, 'database went away');
  });

  it('answers locked, naming the holder, when another replica prepares', async () => {
    const { sut, mocks } = newTestService();
    const holder = { holder: 'replica-b:9' } as LockHolder;
    mocks.locks.tryLock.mockResolvedValue({ acquired: false, holder });

    expect(await sut.start(PLAN, JobTrigger.Cron)).toEqual({ kind: 'locked', holder });
    expect(mocks.jobRuns.start).not.toHaveBeenCalled();
  });
});
