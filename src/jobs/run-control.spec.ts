import { Logger } from '@nestjs/common';
import { JobRunStatus } from './job-run.entity';
import { JobRunRepository, RunCounts } from './job-run.repository';
import { FailureWindow, PROGRESS_WRITE_MS, RunControl, RunStoppedError } from './run-control';

describe(FailureWindow.name, () => {
  it('trips only once the window is full and more than the ratio failed', () => {
    const window = new FailureWindow(4, 0.5);
    expect([true, true, true].map((failed) => window.add(failed))).toEqual([false, false, false]);
    expect(window.add(false)).toBe(true); // 3 of 4 failed
  });

  it('forgets the oldest outcome as new ones come in', () => {
    const window = new FailureWindow(4, 0.5);
    [true, true, false, false].forEach((failed) => window.add(failed)); // exactly half: not more than 0.5
    expect(window.failures).toBe(2);
    expect(window.add(false)).toBe(false); // the first failure left the window: F T F F
    expect(window.failures).toBe(1);
    expect(window.add(true)).toBe(false); // F T F F: the second failure left, this one came in
    expect(window.add(true)).toBe(false); // F T T F
    expect(window.add(true)).toBe(true); // F T T T: 3 of 4
  });

  it('never trips at a ratio of 1', () => {
    const window = new FailureWindow(2, 1);
    expect([true, true, true].some((failed) => window.add(failed))).toBe(false);
  });
});

describe(RunControl.name, () => {
  const counts = (): RunCounts => ({ totalEligible: 10, processed: 0, sent: 0, failed: 0, skipped: 0, unknown: 0 });
  const newControl = (jobRuns: Partial<jobRunsMock>, onAutoPause = jest.fn()) => ({
    sut: new RunControl(
      jobRuns as unknown as JobRunRepository,
      { jobRunId: 'r1', leaseToken: 'lease-1', autoPause: { window: 3, failureRatio: 0.5 }, onAutoPause },
      counts(),
      '2026-11-24',
      { cursor: { lastBookingAt: '2026-10-01 09:00:00+00', id: 'c0' }, counted: ['c1'] },
    ),
    onAutoPause,
  });
  type jobRunsMock = { heartbeat: jest.Mock; transition: jest.Mock };

  beforeAll(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it('writes the counts, customers in flight and resume state, and stops when the row was paused elsewhere', async () => {
    const heartbeat = jest.fn().mockResolvedValue({ status: JobRunStatus.Paused, error: 'paused by an operator' });
    const { sut } = newControl({ heartbeat });
    const page = sut.pageRead(['c1', 'c2', 'c3', 'c4'], { lastBookingAt: '2026-10-02 09:00:00+00', id: 'c4' });
    sut.handed(page, 3);
    sut.finished(page, 'c2', true);
    sut.finished(page, 'c3', false); // not processed (shutting_down): redone on resume
    await sut.beat();
    expect(heartbeat).toHaveBeenCalledWith(
      {
        id: 'r1',
        leaseToken: 'lease-1',
        counts: counts(),
        inFlight: 1,
        resumeState: { campaignDay: '2026-11-24', cursor: { lastBookingAt: '2026-10-01 09:00:00+00', id: 'c0' }, counted: ['c1', 'c2'] },
      },
      true,
    );
    expect(sut.signal.aborted).toBe(true);
    expect(sut.signal.reason).toEqual(new RunStoppedError(JobRunStatus.Paused, 'paused by an operator'));
  });

  it('resumes from the oldest page not finished, with whoever was counted in the pages after it', () => {
    const { sut } = newControl({});
    const cursor = (id: string) => ({ lastBookingAt: '2026-10-02 09:00:00+00', id });
    const first = sut.pageRead(['c1', 'c2'], cursor('c2'));
    const second = sut.pageRead(['c3', 'c4'], cursor('c4'));
    const third = sut.pageRead(['c5'], null);
    sut.finished(first, 'c2', true);
    sut.finished(second, 'c3', true);
    sut.finished(second, 'c4', true);
    sut.pageDone(second, true); // finished before the page in front of it: nothing retires yet
    expect(sut.snapshot().resumeState).toMatchObject({ cursor: { id: 'c0' }, counted: ['c1', 'c2', 'c3', 'c4'] });
    sut.pageDone(first, true); // both retire; the resume point moves past them
    expect(sut.snapshot().resumeState).toMatchObject({ cursor: { id: 'c4' }, counted: [] });
    expect(sut.wasCounted('c1')).toBe(false);
    sut.finished(third, 'c5', true);
    sut.pageDone(third, true); // the last page stays: a finished run has nothing to resume
    expect(sut.snapshot().resumeState).toMatchObject({ cursor: { id: 'c4' }, counted: ['c5'] });
  });

  it('keeps a page the run stopped in, and every page after it, for the resume', () => {
    const { sut } = newControl({});
    const stopped = sut.pageRead(['c1', 'c2'], { lastBookingAt: '2026-10-02 09:00:00+00', id: 'c2' });
    const after = sut.pageRead(['c3'], { lastBookingAt: '2026-10-02 09:00:00+00', id: 'c3' });
    sut.handed(stopped, 1);
    sut.handed(after, 1);
    sut.finished(after, 'c3', true);
    sut.pageDone(after, true);
    expect(sut.snapshot().inFlight).toBe(1);
    sut.pageDone(stopped, false);
    expect(sut.snapshot()).toMatchObject({ inFlight: 0, resumeState: { cursor: { id: 'c0' }, counted: ['c1', 'c3'] } });
  });

  it('writes the counts and resume state only when they changed, and at most every PROGRESS_WRITE_MS', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const heartbeat = jest.fn().mockResolvedValue({ status: JobRunStatus.Running, error: null });
      const { sut } = newControl({ heartbeat });
      const page = sut.pageRead(['c2', 'c3'], null);
      const progress = async () => {
        await sut.beat();
        return heartbeat.mock.calls.at(-1)?.[1] as boolean;
      };
      expect(await progress()).toBe(true); // the first beat writes it
      expect(await progress()).toBe(false); // unchanged
      sut.finished(page, 'c2', true);
      jest.advanceTimersByTime(PROGRESS_WRITE_MS - 1);
      expect(await progress()).toBe(false); // changed, but written too recently
      jest.advanceTimersByTime(1);
      expect(await progress()).toBe(true);
      jest.advanceTimersByTime(PROGRESS_WRITE_MS);
      expect(await progress()).toBe(false); // unchanged since
    } finally {
      jest.useRealTimers();
    }
  });

  it('auto-pauses once, with the failures and the last error in the reason, and records it on its own row', async () => {
    const transition = jest.fn().mockResolvedValue(null);
    const { sut, onAutoPause } = newControl({ transition });
    sut.delivered(true, '550 a');
    sut.delivered(false);
    expect(sut.signal.aborted).toBe(false);
    sut.delivered(true, '550 mailbox unavailable');
    sut.delivered(true, 'later');
    await sut.close();
    const reason = 'auto-paused: 2 of the last 3 deliveries failed (last error: 550 mailbox unavailable)';
    expect(sut.signal.reason).toEqual(new RunStoppedError(JobRunStatus.Paused, reason));
    expect(onAutoPause).toHaveBeenCalledTimes(1);
    expect(onAutoPause).toHaveBeenCalledWith(reason);
    expect(transition).toHaveBeenCalledWith('r1', [JobRunStatus.Running], JobRunStatus.Paused, reason, 'lease-1');
  });
});
