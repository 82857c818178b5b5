import { armOf, armRanges, bucketOf, expectedShares, fnv1a32, HOLDOUT } from './experiment-hash';

describe('experiment hash', () => {
  // GrowthBook's published version-2 vectors (packages/sdk-js/test/cases.json, "hash"): [seed, value, hash].
  const vectors: Array<[string, string, number]> = [
    ['seed', 'a', 0.0505],
    ['seed', 'b', 0.2696],
    ['foo', 'ab', 0.2575],
    ['foo', 'def', 0.2019],
    ['89123klj', '8952klfjas09ujkasdf', 0.124],
    ['90850943850283058242805', '123', 0.7516],
    ['()**(%$##$%#$#', '___)((*":&', 0.0128],
  ];

  it.each(vectors)('hash(%p, %p, 2) = %p', (seed, value, expected) => {
    expect(bucketOf(seed, value) / 10_000).toBe(expected);
  });

  it('is FNV-1a 32 (the reference value of the empty string and of "a")', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
  });

  it('gives the holdout the first buckets and splits the rest by weight', () => {
    const variants = [
      { name: 'friendly', weight: 1 },
      { name: 'premium', weight: 3 },
    ];
    expect(armRanges(10, variants)).toEqual([
      { name: HOLDOUT, from: 0, to: 1000 },
      { name: 'friendly', from: 1000, to: 3250 },
      { name: 'premium', from: 3250, to: 10_000 },
    ]);
    expect(armOf(0, 10, variants)).toBe(HOLDOUT);
    expect(armOf(999, 10, variants)).toBe(HOLDOUT);
    expect(armOf(1000, 10, variants)).toBe('friendly');
    expect(armOf(9999, 10, variants)).toBe('premium');
    expect([...expectedShares(10, variants)]).toEqual([
      [HOLDOUT, 0.1],
      ['friendly', 0.225],
      ['premium', 0.675],
    ]);
  });

  it('has no holdout arm buckets when holdout_percent is 0', () => {
    expect(armOf(0, 0, [{ name: 'only', weight: 1 }])).toBe('only');
  });
});
