import { groupCommit } from './group-commit';

/** A batch writer that records every batch it is given and answers each item with its double. */
function recordingWriter(fail: (item: number) => boolean = () => false) {
  const batches: number[][] = [];
  let release: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  const write = async (items: readonly number[]) => {
    batches.push([...items]);
    await gate;
    if (items.some(fail)) throw new Error(`bad item in [${items.join(', ')}]`);
    return items.map((item) => item * 2);
  };
  const hold = () => {
    gate = new Promise((resolve) => (release = resolve));
  };
  return { batches, write, hold, release: () => release() };
}

describe('groupCommit', () => {
  it('writes a lone call on its own, at once', async () => {
    const writer = recordingWriter();
    const commit = groupCommit(writer.write);
    await expect(commit(21)).resolves.toBe(42);
    expect(writer.batches).toEqual([[21]]);
  });

  it('gathers calls made while a batch is in flight into the next batch', async () => {
    const writer = recordingWriter();
    const commit = groupCommit(writer.write);
    writer.hold();
    const first = commit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = [2, 3, 4].map((item) => commit(item));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.batches).toEqual([[1]]);

    writer.release();
    await expect(first).resolves.toBe(2);
    await expect(Promise.all(waiting)).resolves.toEqual([4, 6, 8]);
    expect(writer.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('splits at the maximum batch size and runs the batches one at a time', async () => {
    let running = 0;
    let mostRunning = 0;
    const batches: number[][] = [];
    const commit = groupCommit(async (items: readonly number[]) => {
      batches.push([...items]);
      mostRunning = Math.max(mostRunning, ++running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return items.map((item) => item * 2);
    }, 2);

    const first = commit(0);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [1, 2, 3, 4, 5, 6].map((item) => commit(item));

    await expect(Promise.all([first, ...rest])).resolves.toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect(batches).toEqual([[0], [1, 2], [3, 4], [5, 6]]);
    expect(mostRunning).toBe(1);
  });

  it('retries a failed batch item by item, so only the bad item fails', async () => {
    const writer = recordingWriter((item) => item === 13);
    const commit = groupCommit(writer.write);
    const results = await Promise.allSettled([12, 13, 14].map((item) => commit(item)));
    expect(results).toEqual([
      { status: 'fulfilled', value: 24 },
      { status: 'rejected', reason: new Error('bad item in [13]') },
      { status: 'fulfilled', value: 28 },
    ]);
    expect(writer.batches).toEqual([[12, 13, 14], [12], [13], [14]]);
  });

  it('retries the items of a failed batch one after another', async () => {
    let running = 0;
    let mostRunning = 0;
    const commit = groupCommit(async (items: readonly number[]) => {
      mostRunning = Math.max(mostRunning, ++running);
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
      if (items.length > 1) throw new Error('batch failed');
      return [items[0]];
    });
    await expect(Promise.all([1, 2, 3, 4].map((item) => commit(item)))).resolves.toEqual([1, 2, 3, 4]);
    expect(mostRunning).toBe(1);
  });

  it('passes on an Error the writer returns for one item', async () => {
    const commit = groupCommit(async (items: readonly number[]) =>
      items.map((item) => (item < 0 ? new Error(`negative: ${item}`) : item)),
    );
    const results = await Promise.allSettled([1, -1].map((item) => commit(item)));
    expect(results).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: new Error('negative: -1') },
    ]);
  });

  it('keeps going after a failed batch', async () => {
    const writer = recordingWriter((item) => item === 0);
    const commit = groupCommit(writer.write);
    await expect(commit(0)).rejects.toThrow('bad item in [0]');
    await expect(commit(5)).resolves.toBe(10);
  });
});
