import { AppConfig } from '../config/app-config';
import { durationMs, holdBackMs, LlmBudget } from './llm-budget';

function budget(rpm: number, tpm = 0): LlmBudget {
  return new LlmBudget({ openai: { budget: { rpm, tpm } }, redis: { keyPrefix: 'x:' } } as AppConfig);
}

describe('LlmBudget in one process (no REDIS_URL)', () => {
  // The clock stands still: waits are exact.
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(1_000_000));
  afterEach(() => jest.restoreAllMocks());

  it('spaces turns evenly at 60 s / OPENAI_RPM and refuses a turn further away than the caller can wait', async () => {
    const sut = budget(600); // one turn every 100 ms
    const waits = [];
    for (let i = 0; i < 3; i++) waits.push((await sut.reserve(1, 1_000)).waitMs);
    expect(waits).toEqual([0, 100, 200]);
    expect(await sut.reserve(1, 250)).toEqual({ granted: false, waitMs: 300 });
    // A refused turn is not taken: the next caller that can wait gets the same slot.
    expect(await sut.reserve(1, 1_000)).toEqual({ granted: true, waitMs: 300 });
  });

  it('charges the token estimate up front and settles to the real usage', async () => {
    const sut = budget(0, 60_000); // one token a millisecond
    expect((await sut.reserve(1_000, 10_000)).waitMs).toBe(0);
    expect((await sut.reserve(1_000, 10_000)).waitMs).toBe(1_000);
    // Both used 200 tokens: 1,600 ms of the clock come back.
    await sut.settle(1_000, 200);
    await sut.settle(1_000, 200);
    expect((await sut.reserve(1_000, 10_000)).waitMs).toBe(400);
  });

  it('holds every caller back during a pause', async () => {
    const sut = budget(60_000);
    await sut.pause(2_000);
    expect(await sut.reserve(1, 5_000)).toEqual({ granted: true, waitMs: 2_000 });
    expect((await sut.reserve(1, 1_000)).granted).toBe(false);
  });

  it('is off with neither budget set', () => {
    expect(budget(0, 0).enabled).toBe(false);
    expect(budget(1).enabled).toBe(true);
  });
});

describe('holdBackMs (what the provider headers ask)', () => {
  const headers = (values: Record<string, string>) => new Headers(values);

  it('takes retry-after-ms, then retry-after, on a 429', () => {
    expect(holdBackMs(headers({ 'retry-after-ms': '250', 'retry-after': '9' }), true, 0)).toBe(250);
    expect(holdBackMs(headers({ 'retry-after': '2' }), true, 0)).toBe(2_000);
  });

  it("waits for the reset of whichever x-ratelimit budget is spent, on a 429 or a success", () => {
    const spent = { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s', 'x-ratelimit-remaining-tokens': '90000', 'x-ratelimit-reset-tokens': '6m0s' };
    expect(holdBackMs(headers(spent), false, 500)).toBe(1_500);
    expect(holdBackMs(headers({ ...spent, 'x-ratelimit-remaining-tokens': '100' }), true, 500)).toBe(360_000);
    expect(holdBackMs(headers({ 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-remaining-tokens': '9000' }), false, 500)).toBeNull();
  });

  it('pauses 15 s after a 429 that names no wait, as the cookbook processor does', () => {
    expect(holdBackMs(headers({}), true, 0)).toBe(15_000);
    expect(holdBackMs(undefined, true, 0)).toBe(15_000);
  });

  it.each([
    ['20ms', 20],
    ['1s', 1_000],
    ['6m0s', 360_000],
    ['1h2m3.5s', 3_723_500],
    ['soon', NaN],
    [null, NaN],
  ])('reads the reset duration %s', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });
});
