import { Slots } from './slots';

describe('Slots', () => {
  it('lets `size` holders in and the next waiter in as one releases, in arrival order', async () => {
    const sut = new Slots(2);
    const first = await sut.acquire();
    const second = await sut.acquire();
    const order: string[] = [];
    const third = sut.acquire().then((release) => (order.push('third'), release));
    const fourth = sut.acquire().then((release) => (order.push('fourth'), release));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    first!();
    first!(); // a second release of the same slot frees nothing more
    expect(await third).not.toBeNull();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['third']);
    second!();
    expect(await fourth).not.toBeNull();
    expect(order).toEqual(['third', 'fourth']);
  });

  it('gives up on a waiter whose wait ran out, and it holds no place after', async () => {
    const sut = new Slots(1);
    const held = await sut.acquire();
    expect(await sut.acquire(0)).toBeNull();
    expect(await sut.acquire(20)).toBeNull();
    held!();
    expect(await sut.acquire(0)).not.toBeNull();
  });

  it('answers null to a waiter whose signal aborts, and does not give it the next slot', async () => {
    const sut = new Slots(1);
    const stop = new AbortController();
    const held = await sut.acquire();
    const aborted = sut.acquire(Infinity, stop.signal);
    const next = sut.acquire(Infinity, new AbortController().signal);
    stop.abort();
    expect(await aborted).toBeNull();
    held!();
    expect(await next).not.toBeNull();
    expect(await sut.acquire(Infinity, stop.signal)).toBeNull();
  });
});
