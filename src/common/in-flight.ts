import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Work a shutdown has to wait for: promises are tracked until they settle (fulfilled or rejected alike), and
 * `settledWithin` tells whether all of them did within a time limit.
 */
export class InFlight {
  private readonly running = new Set<Promise<void>>();

  get size(): number {
    return this.running.size;
  }

  /** Tracks `work` until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return work;
  }

  /** True once everything tracked now has settled; false if `ms` passed first. */
  async settledWithin(ms: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    return Promise.race([Promise.all(this.running).then(() => true), sleep(Math.max(0, ms), false, { ref: false })]);
  }
}
