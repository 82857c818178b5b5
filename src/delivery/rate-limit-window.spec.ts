import { rateLimitWindow } from './queued-reminder-delivery';

describe(rateLimitWindow.name, () => {
  it.each([1, 7, 50, 333, 1_000, 1_000_000])('keeps %d per second, in windows of at most ~50 ms', (perSecond) => {
    const { max, durationMs } = rateLimitWindow(perSecond);
    const rate = (max * 1_000) / durationMs;
    expect(Math.abs(rate - perSecond) / perSecond).toBeLessThan(0.01);
    // The worst case over 10 s: every window full, plus one more window's burst at the edge.
    const worst10s = (10_000 / durationMs + 1) * max;
    expect(worst10s / (perSecond * 10)).toBeLessThanOrEqual(perSecond >= 20 ? 1.01 : 1.1);
  });
});
