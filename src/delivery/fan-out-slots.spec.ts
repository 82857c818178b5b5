import { FanOutSlots } from './fan-out-slots';

describe(FanOutSlots.name, () => {
  it('grants up to its size, then hands each released slot to the longest waiter', async () => {
    const slots = new FanOutSlots(2);
    const signal = new AbortController().signal;
    expect(await Promise.all([slots.acquire(signal), slots.acquire(signal)])).toEqual([true, true]);
    const order: string[] = [];
    const first = slots.acquire(signal).then(() => order.push('first'));
    const second = slots.acquire(signal).then(() => order.push('second'));
    slots.release();
    await first;
    expect(order).toEqual(['first']);
    slots.release();
    await second;
    expect(order).toEqual(['first', 'second']);
  });

  it('answers false to a waiter whose signal aborts, and does not give it the next slot', async () => {
    const slots = new FanOutSlots(1);
    const stop = new AbortController();
    const other = new AbortController();
    await slots.acquire(other.signal);
    const aborted = slots.acquire(stop.signal);
    const next = slots.acquire(other.signal);
    stop.abort();
    expect(await aborted).toBe(false);
    slots.release();
    expect(await next).toBe(true);
    expect(await slots.acquire(stop.signal)).toBe(false);
  });
});
