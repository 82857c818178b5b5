import { mock } from 'jest-mock-extended';
import { ErrorCode } from '../common/app.exception';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { CampaignService } from './campaign.service';
import { JobRunEntity, JobRunStatus, JobTrigger } from './job-run.entity';
import { JobRunRepository } from './job-run.repository';
import { LiveRuns } from './live-runs';
import { RunsService } from './runs.service';

const ID = '0c7e5d2a-9b1f-4e3c-8d6a-5f4b3c2d1e0f';

const row = (status: JobRunStatus, over: Partial<JobRunEntity> = {}): JobRunEntity => ({
  id: ID,
  jobType: 'smartengage',
  jobName: 'smartengage_daily_campaign',
  trigger: JobTrigger.Manual,
  status,
  correlationId: 'corr-1',
  attempt: 1,
  params: {},
  dryRun: false,
  startedAt: new Date('2026-12-07T08:00:00Z'),
  finishedAt: null,
  heartbeatAt: new Date('2026-12-07T08:05:00Z'),
  totalEligible: 100,
  processed: 40,
  sent: 38,
  failed: 1,
  skipped: 1,
  unknown: 0,
  error: null,
  resumeState: { campaignDay: '2026-12-07', cursor: null, counted: [] },
  inFlight: 10,
  holder: 'replica-a:7',
  leaseToken: '5b0d6a43-1c9e-4d2f-8a51-7e3f0c9b2d14',
  ...over,
});

function newTestService() {
  const jobRuns = mock<JobRunRepository>();
  // The repository's transition is conditional: it moves the row only from the listed statuses.
  let current: JobRunEntity | null = null;
  jobRuns.findById.mockImplementation(async () => current);
  jobRuns.transition.mockImplementation(async (_id, from, to, reason) =>
    current && from.includes(current.status) ? (current = { ...current, status: to, error: reason }) : null,
  );
  const messages = mock<AiMessageRepository>();
  messages.countInFlightOfRun.mockResolvedValue({ active: 3, retrying: 2, unknown: 1 });
  messages.llmUsageOfRuns.mockResolvedValue(
    new Map([[ID, { drafts: 38, input: 3800, cachedInput: 38_000, output: 3040, costUsd: 0.0052155 }]]),
  );
  const campaigns = mock<CampaignService>();
  const liveRuns = mock<LiveRuns>();
  liveRuns.abandoned.mockResolvedValue([]);
  const sut = new RunsService(jobRuns, messages, campaigns, liveRuns);
  const given = (run: JobRunEntity | null) => (current = run);
  return { sut, mocks: { jobRuns, messages, campaigns, liveRuns }, given };
}

const ALL = Object.values(JobRunStatus);

describe(RunsService.name, () => {
  describe('pause', () => {
    it('pauses a RUNNING run with the operator as the reason, and answers its progress', async () => {
      const { sut, mocks, given } = newTestService();
      given(row(JobRunStatus.Running));

      const run = await sut.pause(ID);

      expect(run).toMatchObject({ job_run_id: ID, status: JobRunStatus.Paused, reason: 'paused by an operator' });
      // Waiting: handed over but neither active nor retrying.
      expect(run.progress).toEqual({ waiting: 5, active: 3, retrying: 2, unknown: 1 });
      expect(run.llm).toEqual({ drafts: 38, input_tokens: 3800, cached_input_tokens: 38_000, output_tokens: 3040, cost_usd: 0.005216 });
      expect(mocks.messages.llmUsageOfRuns).toHaveBeenCalledWith([ID]);
    });

    it.each(ALL.filter((s) => s !== JobRunStatus.Running))('refuses a %s run with RUN_STATE_CONFLICT naming its status', async (status) => {
      const { sut, given } = newTestService();
      given(row(status));

      await expect(sut.pause(ID)).rejects.toMatchObject({
        code: ErrorCode.RunStateConflict,
        message: `run ${ID} is ${status}; only a RUNNING run can be paused`,
      });
    });

    it('answers RUN_NOT_FOUND for a run that does not exist', async () => {
      const { sut, given } = newTestService();
      given(null);
      await expect(sut.pause(ID)).rejects.toMatchObject({ code: ErrorCode.RunNotFound });
    });
  });

  describe('cancel', () => {
    it.each([JobRunStatus.Running, JobRunStatus.Paused])('cancels a %s run', async (status) => {
      const { sut, given } = newTestService();
      given(row(status));
      await expect(sut.cancel(ID)).resolves.toMatchObject({ status: JobRunStatus.Cancelled, reason: 'cancelled by an operator' });
    });

    it.each(ALL.filter((s) => s !== JobRunStatus.Running && s !== JobRunStatus.Paused))('refuses a %s run', async (status) => {
      const { sut, given } = newTestService();
      given(row(status));
      await expect(sut.cancel(ID)).rejects.toMatchObject({
        code: ErrorCode.RunStateConflict,
        message: `run ${ID} is ${status}; only a RUNNING or PAUSED run can be cancelled`,
      });
    });

    it('answers RUN_NOT_FOUND for a run that does not exist', async () => {
      const { sut, given } = newTestService();
      given(null);
      await expect(sut.cancel(ID)).rejects.toMatchObject({ code: ErrorCode.RunNotFound });
    });
  });

  describe('resume', () => {
    it.each([JobRunStatus.Paused, JobRunStatus.Interrupted])('hands a %s run with a saved position to the campaign', async (status) => {
      const { sut, mocks, given } = newTestService();
      const stopped = row(status);
      given(stopped);
      mocks.campaigns.resume.mockResolvedValue({ kind: 'started', row: { ...stopped, status: JobRunStatus.Running } });

      await expect(sut.resume(ID)).resolves.toMatchObject({ job_run_id: ID, status: JobRunStatus.Running });
      expect(mocks.campaigns.resume).toHaveBeenCalledWith(stopped);
    });

    it.each(ALL.filter((s) => s !== JobRunStatus.Paused && s !== JobRunStatus.Interrupted))(
      'refuses a %s run without touching the campaign',
      async (status) => {
        const { sut, mocks, given } = newTestService();
        given(row(status));
        await expect(sut.resume(ID)).rejects.toMatchObject({
          code: ErrorCode.RunStateConflict,
          message: `run ${ID} is ${status}; only a PAUSED or INTERRUPTED run can be resumed`,
        });
        expect(mocks.campaigns.resume).not.toHaveBeenCalled();
      },
    );

    it('refuses a stopped run that saved no position to resume from', async () => {
      const { sut, mocks, given } = newTestService();
      given(row(JobRunStatus.Interrupted, { resumeState: null }));
      await expect(sut.resume(ID)).rejects.toMatchObject({
        code: ErrorCode.RunStateConflict,
        message: `run ${ID} is INTERRUPTED but saved no position to resume from`,
      });
      expect(mocks.campaigns.resume).not.toHaveBeenCalled();
    });

    it('answers RUN_NOT_FOUND for a run that does not exist', async () => {
      const { sut, given } = newTestService();
      given(null);
      await expect(sut.resume(ID)).rejects.toMatchObject({ code: ErrorCode.RunNotFound });
    });

    it('answers CAMPAIGN_ALREADY_RUNNING, naming the holder, when another run holds the campaign lock', async () => {
      const { sut, mocks, given } = newTestService();
      given(row(JobRunStatus.Paused));
      const holder = { holder: 'replica-b:9', token: 't', acquiredAt: new Date('2026-12-07T09:00:00Z'), heartbeatAt: new Date(), expiresAt: new Date() };
      mocks.campaigns.resume.mockResolvedValue({ kind: 'locked', holder });

      await expect(sut.resume(ID)).rejects.toMatchObject({
        code: ErrorCode.CampaignAlreadyRunning,
        message: expect.stringContaining('(replica-b:9 since 2026-12-07T09:00:00.000Z)'),
      });
    });

    it('answers SHUTTING_DOWN when this instance is stopping', async () => {
      const { sut, mocks, given } = newTestService();
      given(row(JobRunStatus.Paused));
      mocks.campaigns.resume.mockResolvedValue({ kind: 'shutting_down' });
      await expect(sut.resume(ID)).rejects.toMatchObject({ code: ErrorCode.ShuttingDown });
    });

    it('answers RUN_STATE_CONFLICT with the status the run changed to while it was being resumed', async () => {
      const { sut, mocks, given } = newTestService();
      given(row(JobRunStatus.Paused));
      mocks.campaigns.resume.mockImplementation(async () => {
        given(row(JobRunStatus.Cancelled)); // cancelled from another replica meanwhile
        return { kind: 'changed' };
      });

      await expect(sut.resume(ID)).rejects.toMatchObject({
        code: ErrorCode.RunStateConflict,
        message: `run ${ID} is CANCELLED; only a PAUSED or INTERRUPTED run can be resumed`,
      });
    });
  });

  describe('get', () => {
    it('answers RUN_NOT_FOUND for a run that does not exist', async () => {
      const { sut, mocks, given } = newTestService();
      mocks.liveRuns.abandoned.mockResolvedValue([]);
      given(null);
      await expect(sut.get(ID)).rejects.toMatchObject({ code: ErrorCode.RunNotFound });
    });

    it('never answers a negative number waiting when the rows count more than the run handed over', async () => {
      const { sut, mocks, given } = newTestService();
      mocks.liveRuns.abandoned.mockResolvedValue([]);
      given(row(JobRunStatus.Running, { inFlight: 2 }));

      await expect(sut.get(ID)).resolves.toMatchObject({ progress: { waiting: 0, active: 3, retrying: 2, unknown: 1 } });
    });
  });
});
