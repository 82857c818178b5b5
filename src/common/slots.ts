/**
 * At most `size` holders at once; the others wait in arrival order. A waiter gives up (null) when `maxWaitMs`
 * passes or `signal` aborts first, so a caller with a deadline or a stopped run does not hold its place past it.
 * Shared by several fan-outs, it keeps a campaign's customers in flight across its page boundaries.
 */
export class Slots {
  private free: number;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Slots free now: an acquire would not wait. */
  get available(): number {
    return this.free;
  }

  /** A release function, or null when no slot came free within `maxWaitMs` or before `signal` aborted. */
  acquire(maxWaitMs = Infinity, signal?: AbortSignal): Promise<(() => void) | null> {
    if (signal?.aborted) return Promise.resolve(null);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    if (maxWaitMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = () => {
        const index = this.waiting.indexOf(waiter);
        if (index < 0) return;
        this.waiting.splice(index, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        resolve(null);
      };
      const waiter = {
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', giveUp);
          resolve(this.releaser());
        },
      };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', giveUp, { once: true });
      // Unref'd: a waiter does not hold a shutdown open.
      if (Number.isFinite(maxWaitMs)) timer = setTimeout(giveUp, maxWaitMs).unref();
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.free++;
    };
  }
}
