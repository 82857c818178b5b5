import { AppException, ErrorCode } from '../common/app.exception';
import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { LockHolder } from '../database/lock-lease.repository';
import { Lease, LockService } from '../database/lock.service';
import { Channel, MessageType } from '../messaging/message.types';
import { OfferService } from '../smartengage/offer.service';
import { CampaignPreset } from './campaign-presets';
import { CampaignRunner } from './campaign-runner';
import { CampaignService } from './campaign.service';
import { CampaignPlan, CampaignReport } from './campaign.types';
import { JobRunEntity, JobTrigger } from './job-run.entity';
import { JobRunRepository } from './job-run.repository';
import { ShutdownService } from './shutdown.service';
import { ExperimentsService } from '../experiments/experiments.service';

const LIVE: LockHolder = {
  holder: 'replica-a:7',
  token: '0f5e7c1a-3b2d-4e6f-8a9b-1c2d3e4f5a6b',
  acquiredAt: new Date('2026-11-24T09:00:00Z'),
  heartbeatAt: new Date('2026-11-24T09:00:20Z'),
  expiresAt: new Date('2026-11-24T09:00:50Z'),
};
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

const row = (id: string, leaseToken: string | null) => ({ id, leaseToken, holder: 'replica-b:9' }) as JobRunEntity;
const report = (status: CampaignReport['status']) => ({ status, jobRunId: 'r1', counts: { processed: 5 } }) as CampaignReport;

function newTestService(campaign: Partial<AppConfig['campaign']> = {}) {
  const runner = mock<CampaignRunner>();
  runner.run.mockResolvedValue(report('DONE'));
  const locks = mock<LockService>();
  locks.holderOf.mockResolvedValue(LIVE);
  locks.tryLock.mockImplementation(async (_id, fn) => ({
    acquired: true,
    result: await fn({ ...LIVE, id: 0, signal: new AbortController().signal } as unknown as Lease),
  }));
  const jobRuns = mock<JobRunRepository>();
  jobRuns.findRunning.mockResolvedValue([]);
  jobRuns.settleAbandoned.mockImplementation(async (ids: string[]) => ids.length);
  jobRuns.start.mockResolvedValue({ id: 'r1' } as JobRunEntity);
  const shutdown = new ShutdownService({ shutdownGraceMs: 0 } as AppConfig);
  const config = { campaign: { timeZone: 'Asia/Dhaka', maxAttempts: 3, retryBackoffMs: 0, experiment: null, ...campaign } } as AppConfig;
  const runsTotal = { inc: jest.fn() } as unknown as Counter<string>;
  const sut = new CampaignService(runner, locks, jobRuns, {} as OfferService, shutdown, {} as ExperimentsService, config, runsTotal);
  const plan = jest.spyOn(sut, 'plan').mockImplementation(async (request) => ({ ...PLAN, experiment: request.experiment ?? null }));
  return { sut, mocks: { runner, locks, jobRuns, shutdown, plan } };
}

describe(CampaignService.name, () => {
  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterAll(() => jest.restoreAllMocks());

  describe('run', () => {
    it('settles rows left by dead runs under the lock, then records its own with the lease', async () => {
      const { sut, mocks } = newTestService();
      mocks.jobRuns.findRunning.mockResolvedValue([row('dead', 'old-token')]);
      const outcome = await sut.run(PLAN, JobTrigger.Manual);
      expect(outcome).toMatchObject({ kind: 'ran', report: { status: 'DONE' } });
      expect(mocks.jobRuns.settleAbandoned).toHaveBeenCalledWith(['dead']);
      expect(mocks.jobRuns.start).toHaveBeenCalledWith(
        expect.objectContaining({ trigger: 'manual' }),
        expect.objectContaining({ token: LIVE.token }),
      );
    });

    it('says who holds the lock when it is taken', async () => {
      const { sut, mocks } = newTestService();
      mocks.locks.tryLock.mockResolvedValueOnce({ acquired: false, holder: LIVE });
      expect(await sut.run(PLAN, JobTrigger.Manual)).toEqual({ kind: 'locked', holder: LIVE });
      expect(mocks.jobRuns.skipped).toHaveBeenCalled();
      expect(mocks.runner.run).not.toHaveBeenCalled();
    });

    it('starts nothing once the service is shutting down', async () => {
      const { sut, mocks } = newTestService();
      await mocks.shutdown.stop();
      expect(await sut.run(PLAN, JobTrigger.Manual)).toEqual({ kind: 'shutting_down' });
      expect(mocks.locks.tryLock).not.toHaveBeenCalled();
    });
  });

  describe('runScheduled', () => {
    it('retries a failed run but not an interrupted one', async () => {
      const { sut, mocks } = newTestService();
      mocks.runner.run.mockResolvedValueOnce(report('FAILED')).mockResolvedValueOnce(report('INTERRUPTED'));
      const outcome = await sut.runScheduled();
      expect(outcome).toMatchObject({ kind: 'ran', report: { status: 'INTERRUPTED' } });
      expect(mocks.runner.run).toHaveBeenCalledTimes(2);
    });

    it('splits the scheduled run by CAMPAIGN_EXPERIMENT', async () => {
      const { sut, mocks } = newTestService({ experiment: 'winback-offer' });
      await sut.runScheduled();
      expect(mocks.plan).toHaveBeenCalledWith({ experiment: 'winback-offer' });
      expect(mocks.runner.run.mock.calls[0][0].plan.experiment).toBe('winback-offer');
    });

    it.each([
      ['stopped', new AppException(ErrorCode.ExperimentStopped, 'experiment winback-offer is stopped and takes no new customers')],
      ['gone', new AppException(ErrorCode.ExperimentNotFound, 'experiment winback-offer does not exist')],
    ])('runs without CAMPAIGN_EXPERIMENT, warning once, when it is %s', async (_case, refusal) => {
      const { sut, mocks } = newTestService({ experiment: 'winback-offer' });
      mocks.plan.mockRejectedValueOnce(refusal);
      const warn = jest.spyOn(Logger.prototype, 'warn');
      warn.mockClear();

      const outcome = await sut.runScheduled();

      expect(outcome).toMatchObject({ kind: 'ran', report: { status: 'DONE' } });
      expect(mocks.runner.run.mock.calls[0][0].plan.experiment).toBeNull();
      expect(warn).toHaveBeenCalledWith(expect.objectContaining({ msg: expect.stringContaining('CAMPAIGN_EXPERIMENT winback-offer does not apply') }));
    });

    it('still fails the tick on any other error', async () => {
      const { sut, mocks } = newTestService({ experiment: 'winback-offer' });
      mocks.plan.mockRejectedValueOnce(new Error('database unreachable'));
      await expect(sut.runScheduled()).rejects.toThrow('database unreachable');
    });
  });
});
