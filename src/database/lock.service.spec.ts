import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { LockId } from './lock-ids';
import { LockHolder, LockLeaseRepository } from './lock-lease.repository';
import { Lease, LeaseLostError, LockService } from './lock.service';

// Long enough that a loaded machine delaying a timer tick does not lose the lease by itself.
const TTL_MS = 300;
const HOLDER: LockHolder = {
  holder: 'other-host:42',
  token: '5b0d6a43-1c9e-4d2f-8a51-7e3f0c9b2d14',
  acquiredAt: new Date('2026-11-24T09:00:00Z'),
  heartbeatAt: new Date('2026-11-24T09:00:20Z'),
  expiresAt: new Date('2026-11-24T09:00:50Z'),
};

function newTestService() {
  const leases = mock<LockLeaseRepository>();
  leases.acquire.mockImplementation(async (_id: LockId, holder: string, token: string) => ({ ...HOLDER, holder, token }));
  leases.renew.mockResolvedValue(true);
  leases.release.mockResolvedValue(undefined);
  leases.live.mockResolvedValue(HOLDER);
  const config = { database: { lockLeaseTtlMs: TTL_MS } } as AppConfig;
  return { sut: new LockService(leases, config), mocks: { leases } };
}

/** Resolves with the reason `signal` aborts with, or null if it is still live after `ms`. */
const abortReason = (signal: AbortSignal, ms: number) =>
  Promise.race([
    new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true })),
    sleep(ms, null),
  ]);

describe(LockService.name, () => {
  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterAll(() => jest.restoreAllMocks());

  it('runs the work under a new lease, renews it every third of the TTL and releases it by its token', async () => {
    const { sut, mocks } = newTestService();
    let seen: Lease | undefined;
    const result = await sut.tryLock(LockId.DailyCampaign, async (lease) => {
      seen = lease;
      while (mocks.leases.renew.mock.calls.length < 3 && !lease.signal.aborted) await sleep(TTL_MS / 6);
      return 'done';
    });
    expect(result).toEqual({ acquired: true, result: 'done' });
    expect(seen).toMatchObject({ id: LockId.DailyCampaign, holder: sut.holder, acquiredAt: HOLDER.acquiredAt });
    expect(seen!.signal.aborted).toBe(false);
    expect(mocks.leases.acquire).toHaveBeenCalledWith(LockId.DailyCampaign, sut.holder, seen!.token, TTL_MS);
    expect(mocks.leases.renew).toHaveBeenCalledWith(LockId.DailyCampaign, seen!.token, TTL_MS);
    expect(mocks.leases.release).toHaveBeenCalledWith(LockId.DailyCampaign, seen!.token);
    // No renewal after the release.
    const renewals = mocks.leases.renew.mock.calls.length;
    await sleep(TTL_MS);
    expect(mocks.leases.renew.mock.calls.length).toBe(renewals);
  });

  it('names this process as the holder: host and pid', () => {
    expect(newTestService().sut.holder).toMatch(new RegExp(`^.+:${process.pid}$`));
  });

  it('does not run the work while another lease is live, and says who holds it', async () => {
    const { sut, mocks } = newTestService();
    mocks.leases.acquire.mockResolvedValueOnce(null);
    const work = jest.fn();
    expect(await sut.tryLock(LockId.DailyCampaign, work)).toEqual({ acquired: false, holder: HOLDER });
    expect(work).not.toHaveBeenCalled();
    expect(mocks.leases.release).not.toHaveBeenCalled();
  });

  it('tells the work when its lease was taken over, and still releases its own token', async () => {
    const { sut, mocks } = newTestService();
    mocks.leases.renew.mockResolvedValue(false);
    const result = await sut.tryLock(LockId.DailyCampaign, (lease) => abortReason(lease.signal, TTL_MS * 5));
    expect(result.acquired && result.result).toBeInstanceOf(LeaseLostError);
    expect(mocks.leases.release).toHaveBeenCalledTimes(1);
  });

  it('tells the work once renewals have failed for a whole TTL, not before', async () => {
    const { sut, mocks } = newTestService();
    mocks.leases.renew.mockRejectedValue(new Error('connection reset'));
    const started = Date.now();
    const result = await sut.tryLock(LockId.DailyCampaign, async (lease) => {
      const reason = await abortReason(lease.signal, TTL_MS * 5);
      return { reason, afterMs: Date.now() - started };
    });
    expect(result.acquired && result.result.reason).toBeInstanceOf(LeaseLostError);
    expect(result.acquired && result.result.afterMs).toBeGreaterThanOrEqual(TTL_MS);
  });

  it('releases the lease when the work throws, and passes the error on', async () => {
    const { sut, mocks } = newTestService();
    await expect(sut.tryLock(LockId.DailyCampaign, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(mocks.leases.release).toHaveBeenCalledTimes(1);
  });

  it('retries a failed release, and a release that keeps failing does not hide the result', async () => {
    const { sut, mocks } = newTestService();
    mocks.leases.release.mockRejectedValueOnce(new Error('Connection terminated unexpectedly'));
    expect(await sut.tryLock(LockId.DailyCampaign, async () => 1)).toEqual({ acquired: true, result: 1 });
    expect(mocks.leases.release).toHaveBeenCalledTimes(2);

    mocks.leases.release.mockReset().mockRejectedValue(new Error('database unreachable'));
    expect(await sut.tryLock(LockId.DailyCampaign, async () => 2)).toEqual({ acquired: true, result: 2 });
  });

  it('withLock waits until the lock is free, then runs the work once', async () => {
    const { sut, mocks } = newTestService();
    mocks.leases.acquire.mockResolvedValueOnce(null).mockResolvedValueOnce(null);
    const work = jest.fn().mockResolvedValue('ran');
    expect(await sut.withLock(LockId.DailyCampaign, work)).toBe('ran');
    expect(mocks.leases.acquire).toHaveBeenCalledTimes(3);
    expect(work).toHaveBeenCalledTimes(1);
  });
});
