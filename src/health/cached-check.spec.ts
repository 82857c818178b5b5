import { CachedCheck } from './cached-check';

describe(CachedCheck.name, () => {
  afterEach(() => jest.useRealTimers());

  it('runs one check for concurrent callers and serves its result until it is maxAge old', async () => {
    jest.useFakeTimers({ now: 0 });
    const run = jest.fn(() => Promise.resolve('up'));
    const sut = new CachedCheck(run, 30_000);

    expect(await Promise.all(Array.from({ length: 200 }, () => sut.get()))).toEqual(Array(200).fill('up'));
    expect(run).toHaveBeenCalledTimes(1);

    jest.setSystemTime(29_999);
    await sut.get();
    expect(run).toHaveBeenCalledTimes(1);
    jest.setSystemTime(30_001);
    await sut.get();
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('shares a check still running, however long it takes', async () => {
    jest.useFakeTimers({ now: 0 });
    let answer!: (value: string) => void;
    const run = jest.fn(() => new Promise<string>((resolve) => (answer = resolve)));
    const sut = new CachedCheck(run, 1_000);
    const first = sut.get();
    jest.setSystemTime(5_000);
    const second = sut.get();
    answer('down');
    expect(await Promise.all([first, second])).toEqual(['down', 'down']);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('does not keep a check that threw: the next caller asks again', async () => {
    const run = jest.fn().mockRejectedValueOnce(new Error('pool is closed')).mockResolvedValueOnce('up');
    const sut = new CachedCheck<string>(run, 30_000);
    await expect(sut.get()).rejects.toThrow('pool is closed');
    expect(await sut.get()).toBe('up');
    expect(run).toHaveBeenCalledTimes(2);
  });
});
