import { CircuitBreaker, CircuitOpenError, CircuitState } from './circuit-breaker';

const COOLDOWN_MS = 30_000;

function setup(failureThreshold = 3) {
  let now = 1_000_000;
  const changes: string[] = [];
  const sut = new CircuitBreaker({
    failureThreshold,
    cooldownMs: COOLDOWN_MS,
    now: () => now,
    onStateChange: (to, from) => changes.push(`${from}->${to}`),
  });
  const calls = { count: 0 };
  const succeed = () => sut.run(async () => ++calls.count);
  const fail = () =>
    sut.run(async () => {
      calls.count += 1;
      throw new Error('provider down');
    });
  return { sut, calls, changes, succeed, fail, advance: (ms: number) => (now += ms) };
}

/** Lets a background trial that has been resolved or rejected report back. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** A call that stays in flight until settled by hand. */
function pending() {
  let settle!: { resolve: (value: string) => void; reject: (error: Error) => void };
  const promise = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  return { call: () => promise, ...settle };
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures and then refuses without calling', async () => {
    const { sut, calls, changes, fail } = setup(3);

    for (let i = 0; i < 3; i++) await expect(fail()).rejects.toThrow('provider down');

    expect(sut.state).toBe(CircuitState.Open);
    expect(changes).toEqual(['closed->open']);
    await expect(sut.run(async () => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls.count).toBe(3);
    expect(sut.snapshot()).toEqual({
      state: CircuitState.Open,
      consecutiveFailures: 3,
      retryAt: new Date(1_000_000 + COOLDOWN_MS),
    });
  });

  it('counts only consecutive failures: a success in between starts the count again', async () => {
    const { sut, fail, succeed } = setup(3);

    await expect(fail()).rejects.toThrow();
    await expect(fail()).rejects.toThrow();
    await succeed();
    await expect(fail()).rejects.toThrow();
    await expect(fail()).rejects.toThrow();

    expect(sut.state).toBe(CircuitState.Closed);
    expect(sut.snapshot().consecutiveFailures).toBe(2);
  });

  it('turns half-open after the cooldown and makes exactly one trial call, in the background; its success closes it', async () => {
    const { sut, calls, changes, fail, advance } = setup(2);
    await expect(fail()).rejects.toThrow();
    await expect(fail()).rejects.toThrow();

    advance(COOLDOWN_MS - 1);
    expect(sut.state).toBe(CircuitState.Open);
    advance(1);
    expect(sut.state).toBe(CircuitState.HalfOpen);

    const trial = pending();
    const started: string[] = [];
    // The caller that starts the trial does not wait for it, and nobody else gets through meanwhile.
    await expect(sut.run(() => (started.push('trial'), trial.call()))).rejects.toThrow('trial call is running');
    await expect(sut.run(async () => started.push('second'))).rejects.toBeInstanceOf(CircuitOpenError);
    expect(started).toEqual(['trial']);
    expect(sut.state).toBe(CircuitState.HalfOpen);

    trial.resolve('ok');
    await settled();

    expect(sut.state).toBe(CircuitState.Closed);
    expect(sut.snapshot()).toEqual({ state: CircuitState.Closed, consecutiveFailures: 0, retryAt: null });
    await expect(sut.run(async () => 'again')).resolves.toBe('again');
    expect(changes).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
    expect(calls.count).toBe(2);
  });

  it('opens again for a full cooldown when the trial fails', async () => {
    const { sut, calls, changes, fail, succeed, advance } = setup(2);
    await expect(fail()).rejects.toThrow();
    await expect(fail()).rejects.toThrow();
    advance(COOLDOWN_MS);

    // The trial's own rejection is not the caller's: it is refused as the circuit is not closed.
    await expect(fail()).rejects.toBeInstanceOf(CircuitOpenError);
    await settled();

    expect(calls.count).toBe(3);
    expect(sut.state).toBe(CircuitState.Open);
    await expect(succeed()).rejects.toBeInstanceOf(CircuitOpenError);
    advance(COOLDOWN_MS - 1);
    expect(sut.state).toBe(CircuitState.Open);
    advance(1);
    await expect(succeed()).rejects.toBeInstanceOf(CircuitOpenError);
    await settled();
    expect(sut.state).toBe(CircuitState.Closed);
    await expect(succeed()).resolves.toBe(5);
    expect(changes).toEqual(['closed->open', 'open->half_open', 'half_open->open', 'open->half_open', 'half_open->closed']);
  });

  it('ignores calls admitted before the circuit opened when they finish later', async () => {
    const { sut, fail, advance } = setup(2);
    const late = [pending(), pending()];
    const running = late.map((call) => sut.run(call.call));
    await expect(fail()).rejects.toThrow();
    await expect(fail()).rejects.toThrow();
    expect(sut.state).toBe(CircuitState.Open);

    // A straggler that succeeds does not close the open circuit, nor one that fails extend it.
    late[0].resolve('late success');
    await expect(running[0]).resolves.toBe('late success');
    expect(sut.state).toBe(CircuitState.Open);
    advance(COOLDOWN_MS);
    late[1].reject(new Error('late failure'));
    await expect(running[1]).rejects.toThrow('late failure');
    expect(sut.state).toBe(CircuitState.HalfOpen);
  });
});

describe('CircuitBreaker with isFailure', () => {
  it('does not open on errors that are answers, and they reset the count of failures in a row', async () => {
    const answer = new Error('429');
    const sut = new CircuitBreaker({ failureThreshold: 2, cooldownMs: COOLDOWN_MS, isFailure: (error) => error !== answer });
    const fail = () => sut.run(async () => Promise.reject(new Error('down')));
    const rateLimited = () => sut.run(async () => Promise.reject(answer));

    for (let i = 0; i < 10; i++) await expect(rateLimited()).rejects.toBe(answer);
    expect(sut.state).toBe(CircuitState.Closed);
    await expect(fail()).rejects.toThrow('down');
    await expect(rateLimited()).rejects.toBe(answer);
    await expect(fail()).rejects.toThrow('down');
    expect(sut.snapshot().consecutiveFailures).toBe(1);
    await expect(fail()).rejects.toThrow('down');
    expect(sut.state).toBe(CircuitState.Open);
  });
});
