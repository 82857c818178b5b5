/**
 * At most `size` holders at once; the others wait in arrival order. A waiter gives up (null) when `maxWaitMs`
 * passes first, so a caller with a deadline does not hold its place past it.
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

  /** A release function, or null when no slot came free within `maxWaitMs`. */
  acquire(maxWaitMs = Infinity): Promise<(() => void) | null> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    if (maxWaitMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        grant: () => {
          clearTimeout(timer);
          resolve(this.releaser());
        },
      };
      this.waiting.push(waiter);
      if (Number.isFinite(maxWaitMs)) {
        // Unref'd: a waiter does not hold a shutdown open.
        timer = setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index < 0) return;
          this.waiting.splice(index, 1);
          resolve(null);
        }, maxWaitMs).unref();
      }
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
