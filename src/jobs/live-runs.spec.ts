import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { LockId } from '../database/lock-ids';
import { LockHolder } from '../database/lock-lease.repository';
import { LockService } from '../database/lock.service';
import { CAMPAIGN_JOB_NAME, PREPARE_JOB_NAME } from './campaign.types';
import { JobRunEntity } from './job-run.entity';
import { JobRunRepository } from './job-run.repository';
import { LiveRuns } from './live-runs';

const LIVE: LockHolder = {
  holder: 'replica-a:7',
  token: '0f5e7c1a-3b2d-4e6f-8a9b-1c2d3e4f5a6b',
  acquiredAt: new Date('2026-11-24T09:00:00Z'),
  heartbeatAt: new Date('2026-11-24T09:00:20Z'),
  expiresAt: new Date('2026-11-24T09:00:50Z'),
};

const row = (id: string, leaseToken: string | null, jobName = CAMPAIGN_JOB_NAME) => ({ id, leaseToken, jobName, holder: 'replica-b:9' }) as JobRunEntity;

function newTestService() {
  const jobRuns = mock<JobRunRepository>();
  jobRuns.findRunning.mockResolvedValue([]);
  jobRuns.settleAbandoned.mockImplementation(async (ids: string[]) => ids.length);
  const locks = mock<LockService>();
  locks.holderOf.mockResolvedValue(LIVE);
  return { sut: new LiveRuns(jobRuns, locks), mocks: { jobRuns, locks } };
}

describe(LiveRuns.name, () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  describe('of', () => {
    it('keeps the run under the live lease and reports every other RUNNING row as abandoned, writing nothing', async () => {
      const { sut, mocks } = newTestService();
      mocks.jobRuns.findRunning.mockResolvedValue([row('live', LIVE.token), row('dead', 'another-token'), row('old', null)]);
      const { lock, run, abandoned } = await sut.of(CAMPAIGN_JOB_NAME);
      expect(lock).toBe(LIVE);
      expect(run?.id).toBe('live');
      expect(abandoned.map((r) => r.id)).toEqual(['dead', 'old']);
      expect(mocks.locks.holderOf).toHaveBeenCalledWith(LockId.DailyCampaign);
      expect(mocks.jobRuns.settleAbandoned).not.toHaveBeenCalled();
    });

    it('reports a RUNNING row as abandoned as soon as no lease is live', async () => {
      const { sut, mocks } = newTestService();
      mocks.locks.holderOf.mockResolvedValue(null);
      mocks.jobRuns.findRunning.mockResolvedValue([row('killed', LIVE.token)]);
      const live = await sut.of(CAMPAIGN_JOB_NAME);
      expect(live).toMatchObject({ lock: null, run: null });
      expect(live.abandoned.map((r) => r.id)).toEqual(['killed']);
    });

    it('reads the rows before the lease, so a run that is only starting is never taken for dead', async () => {
      const { sut, mocks } = newTestService();
      await sut.of(CAMPAIGN_JOB_NAME);
      expect(mocks.jobRuns.findRunning.mock.invocationCallOrder[0]).toBeLessThan(mocks.locks.holderOf.mock.invocationCallOrder[0]);
    });
  });

  it("checks a prepare's rows against the prepare lock, not the campaign's", async () => {
    const { sut, mocks } = newTestService();
    mocks.jobRuns.findRunning.mockImplementation(async (name) => (name === PREPARE_JOB_NAME ? [row('prepare-dead', 'gone', PREPARE_JOB_NAME)] : [row('live', LIVE.token)]));
    mocks.locks.holderOf.mockImplementation(async (id) => (id === LockId.DailyCampaign ? LIVE : null));

    expect((await sut.abandoned()).map((r) => r.id)).toEqual(['prepare-dead']);
  });

  it('settles the dead rows of every locked job and leaves the live run alone', async () => {
    const { sut, mocks } = newTestService();
    mocks.jobRuns.findRunning.mockImplementation(async (name) =>
      name === PREPARE_JOB_NAME ? [row('prepare-dead', 'gone', PREPARE_JOB_NAME)] : [row('live', LIVE.token), row('dead', 'another-token')],
    );
    await sut.settleAbandoned();
    expect(mocks.jobRuns.settleAbandoned).toHaveBeenCalledWith(['dead', 'prepare-dead']);
  });
});
