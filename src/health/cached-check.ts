/** How long a check of a provider outside (SMTP login, the LLM's /models) stands for it. */
export const EXTERNAL_CHECK_MAX_AGE_MS = 30_000;
/** Our own database and Redis are checked afresh each second at most: cheap, and an outage shows at once. */
export const INTERNAL_CHECK_MAX_AGE_MS = 1_000;

/**
 * One dependency's check, run at most once per `maxAgeMs` whatever the request rate: callers during a check
 * share it, callers after it get its result until it is `maxAgeMs` old. A public route that logged in to SMTP
 * on every call would let anyone get the mail account throttled by its provider.
 */
export class CachedCheck<T> {
  private current?: { result: Promise<T>; settledAt?: number };

  constructor(
    private readonly run: () => Promise<T>,
    private readonly maxAgeMs: number,
  ) {}

  get(): Promise<T> {
    const current = this.current;
    if (current && (current.settledAt === undefined || Date.now() - current.settledAt < this.maxAgeMs)) return current.result;
    const next: { result: Promise<T>; settledAt?: number } = { result: this.run() };
    this.current = next;
    // A check that throws is not cached: the next caller asks again.
    next.result.then(
      () => (next.settledAt = Date.now()),
      () => {
        if (this.current === next) this.current = undefined;
      },
    );
    return next.result;
  }
}
