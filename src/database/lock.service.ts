import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { retry } from '../common/retry';
import { LockId } from './lock-ids';
import { LockHolder, LockLeaseRepository } from './lock-lease.repository';

/** The lock as its holder sees it while `fn` runs. */
export interface Lease {
  id: LockId;
  holder: string;
  token: string;
  acquiredAt: Date;
  /** Aborted with a LeaseLostError when the lease could not be renewed: stop work that needs the lock. */
  signal: AbortSignal;
}

export class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

export type TryLockResult<T> = { acquired: true; result: T } | { acquired: false; holder: LockHolder | null };

/**
 * Locks held as leases in lock_leases, so they work through any pooler, PgBouncer in transaction mode and
 * Neon's pooled endpoint included: no statement depends on landing on the connection that took the lock.
 * The holder renews its lease every third of LOCK_LEASE_TTL_SECONDS; a holder that dies stops renewing, and
 * the lock is free again when the lease expires. A holder that cannot renew in time is told through
 * `lease.signal`. The lease is released in `finally` by its token, so a stale holder never frees a lock
 * that another one has taken over.
 */
@Injectable()
export class LockService {
  private readonly logger = new Logger(LockService.name);
  /** This process as lock holders are shown: host name (the pod's, in Kubernetes) and pid. */
  readonly holder = `${hostname()}:${process.pid}`;
  private readonly ttlMs: number;

  constructor(
    private readonly leases: LockLeaseRepository,
    config: AppConfig,
  ) {
    this.ttlMs = config.database.lockLeaseTtlMs;
  }

  /** Waits for the lock (checking again every third of the TTL), then runs `fn` while holding it. */
  async withLock<T>(id: LockId, fn: (lease: Lease) => Promise<T>): Promise<T> {
    for (;;) {
      const attempt = await this.tryLock(id, fn);
      if (attempt.acquired) return attempt.result;
      await sleep(this.ttlMs / 3);
    }
  }

  /** Runs `fn` only if the lock is free right now; otherwise says who holds it. */
  async tryLock<T>(id: LockId, fn: (lease: Lease) => Promise<T>): Promise<TryLockResult<T>> {
    const token = randomUUID();
    const sentAt = performance.now();
    const taken = await this.leases.acquire(id, this.holder, token, this.ttlMs);
    if (!taken) return { acquired: false, holder: await this.leases.live(id) };

    const keeper = this.keepAlive(id, token, sentAt);
    try {
      const lease = { id, holder: this.holder, token, acquiredAt: taken.acquiredAt, signal: keeper.signal };
      return { acquired: true, result: await fn(lease) };
    } finally {
      keeper.stop();
      await retry(() => this.leases.release(id, token)).catch((error: unknown) =>
        this.logger.error(`Could not release lock ${LockId[id]}; it frees itself when its lease expires: ${describe(error)}`),
      );
    }
  }

  /** The live lease on `id`, or null when the lock is free. */
  holderOf(id: LockId): Promise<LockHolder | null> {
    return this.leases.live(id);
  }

  /**
   * Renews the lease until stopped. Renewal times are taken before each statement is sent, so the
   * holder's own deadline never falls after the expiry the database computed.
   */
  private keepAlive(id: LockId, token: string, acquiredSentAt: number): { signal: AbortSignal; stop: () => void } {
    const controller = new AbortController();
    let renewedAt = acquiredSentAt;
    let renewing = false;
    const lose = (why: string) => {
      clearInterval(timer);
      this.logger.error(`Lost lock ${LockId[id]}: ${why}`);
      controller.abort(new LeaseLostError(`lost the ${LockId[id]} lock: ${why}`));
    };
    const timer = setInterval(async () => {
      if (controller.signal.aborted) return;
      if (performance.now() - renewedAt >= this.ttlMs) return lose(`its lease was not renewed for ${this.ttlMs / 1000} s`);
      if (renewing) return;
      renewing = true;
      const sentAt = performance.now();
      try {
        if (await this.leases.renew(id, token, this.ttlMs)) renewedAt = sentAt;
        else lose('its lease expired or another holder took it over');
      } catch (error) {
        this.logger.warn(`Could not renew the ${LockId[id]} lease, trying again: ${describe(error)}`);
      } finally {
        renewing = false;
      }
    }, this.ttlMs / 3);
    return { signal: controller.signal, stop: () => clearInterval(timer) };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
