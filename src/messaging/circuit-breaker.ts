/** The breaker's state; the numbers are what the state gauge reports. */
export enum CircuitState {
  Closed = 'closed',
  Open = 'open',
  HalfOpen = 'half_open',
}

export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = {
  [CircuitState.Closed]: 0,
  [CircuitState.Open]: 1,
  [CircuitState.HalfOpen]: 2,
};

export class CircuitOpenError extends Error {
  /** `retryAt` is when an open circuit lets its trial through; null while that trial runs. */
  constructor(readonly retryAt: Date | null) {
    super(retryAt ? `the circuit is open until ${retryAt.toISOString()}` : 'the circuit is half-open and its trial call is running');
    this.name = 'CircuitOpenError';
  }
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial call is let through. */
  cooldownMs: number;
  now?: () => number;
  /** Errors for which this is false are answers, not failures (an LLM's 429): they count as a success. */
  isFailure?: (error: unknown) => boolean;
  onStateChange?: (to: CircuitState, from: CircuitState) => void;
}

export interface CircuitSnapshot {
  state: CircuitState;
  consecutiveFailures: number;
  /** When an open circuit lets its next trial call through. */
  retryAt: Date | null;
}

/**
 * Closed: calls pass, and `failureThreshold` consecutive failures open it. Open: calls are refused at once
 * for `cooldownMs`. Then half-open: exactly one trial call is made; its success closes the circuit, its
 * failure opens it again. The trial runs in the background and its caller is refused like the others:
 * a provider that hangs would otherwise hold that caller (and a campaign page waiting for it) every cooldown.
 *
 * Written here rather than taken from a library: opossum 10 and cockatiel 4 (which has this exact
 * consecutive-failure policy) both require Node 22, and opossum counts failures as a rolling percentage.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private trialRunning = false;
  /** Bumped on every transition, so a call admitted before one cannot decide the state after it. */
  private epoch = 0;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.openedAt === null) return CircuitState.Closed;
    if (this.trialRunning || this.now() >= this.openedAt + this.options.cooldownMs) return CircuitState.HalfOpen;
    return CircuitState.Open;
  }

  snapshot(): CircuitSnapshot {
    return {
      state: this.state,
      consecutiveFailures: this.failures,
      retryAt: this.openedAt === null ? null : new Date(this.openedAt + this.options.cooldownMs),
    };
  }

  /**
   * Runs `call` while the circuit is closed. Otherwise throws CircuitOpenError, having started `call` as
   * the trial if one is due. A rejection of `call` counts as a failure unless `isFailure` says otherwise.
   */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === CircuitState.Closed) return this.attempt(call, false);
    if (state === CircuitState.HalfOpen && !this.trialRunning) {
      this.trialRunning = true;
      this.options.onStateChange?.(CircuitState.HalfOpen, CircuitState.Open);
      this.attempt(call, true).catch(() => undefined);
    }
    throw new CircuitOpenError(this.trialRunning ? null : new Date((this.openedAt ?? this.now()) + this.options.cooldownMs));
  }

  private async attempt<T>(call: () => Promise<T>, trial: boolean): Promise<T> {
    const epoch = this.epoch;
    let result: T;
    try {
      result = await call();
    } catch (error) {
      this.settle(epoch, trial, !(this.options.isFailure?.(error) ?? true));
      throw error;
    }
    this.settle(epoch, trial, true);
    return result;
  }

  private settle(epoch: number, trial: boolean, succeeded: boolean): void {
    if (trial) this.trialRunning = false;
    if (epoch !== this.epoch) return;
    if (succeeded) {
      this.failures = 0;
      if (trial) this.transition(CircuitState.Closed, CircuitState.HalfOpen, null);
      return;
    }
    this.failures += 1;
    if (trial) this.transition(CircuitState.Open, CircuitState.HalfOpen, this.now());
    else if (this.failures >= this.options.failureThreshold) this.transition(CircuitState.Open, CircuitState.Closed, this.now());
  }

  private transition(to: CircuitState, from: CircuitState, openedAt: number | null): void {
    this.openedAt = openedAt;
    this.epoch += 1;
    this.options.onStateChange?.(to, from);
  }
}
