import {
  absoluteUplift,
  chiSquarePValue,
  normalCdf,
  normalQuantile,
  relativeUplift,
  sampleRatioPValue,
  sampleSizePerArm,
  twoProportionPValue,
  wilsonInterval,
} from './experiment-stats';

// Expected values computed by hand with Python (math.erfc) and checked against scipy.stats 1.17.
describe('experiment statistics', () => {
  const holdout = { successes: 30, trials: 1000 };
  const variant = { successes: 50, trials: 1000 };

  it('normal CDF and quantile', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.8)).toBeCloseTo(0.8416212335729143, 8);
    expect(normalQuantile(1e-6)).toBeCloseTo(-4.753424308822899, 6);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7); // erfc is good to 1.2e-7 relative
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 7);
    expect(normalCdf(-5) / 2.866515718791933e-7).toBeCloseTo(1, 5);
    expect(() => normalQuantile(0)).toThrow(RangeError);
  });

  it('Wilson intervals, including zero conversions and an empty arm', () => {
    const w30 = wilsonInterval(30, 1000)!;
    expect(w30.lower).toBeCloseTo(0.0210937388, 8);
    expect(w30.upper).toBeCloseTo(0.0425034141, 8);
    const w50 = wilsonInterval(50, 1000)!;
    expect(w50.lower).toBeCloseTo(0.0381302624, 8);
    expect(w50.upper).toBeCloseTo(0.0653138202, 8);
    const zero = wilsonInterval(0, 100)!;
    expect(zero.lower).toBe(0);
    expect(zero.upper).toBeCloseTo(0.0369934982, 8);
    expect(wilsonInterval(0, 0)).toBeNull();
  });

  it('holdout 1,000/30 against variant 1,000/50: 2.0 points, its interval, the relative uplift and p = 0.022', () => {
    const absolute = absoluteUplift(holdout, variant)!;
    expect(absolute.estimate).toBeCloseTo(0.02, 12);
    expect(absolute.interval.lower).toBeCloseTo(0.0028461157, 8);
    expect(absolute.interval.upper).toBeCloseTo(0.0371538843, 8);

    const relative = relativeUplift(holdout, variant)!;
    expect(relative.estimate).toBeCloseTo(0.6666666667, 9);
    expect(relative.interval.lower).toBeCloseTo(-0.0734438471, 8);
    expect(relative.interval.upper).toBeCloseTo(1.4067771804, 8);

    const p = twoProportionPValue(holdout, variant)!;
    expect(p.toFixed(3)).toBe('0.022');
    expect(p).toBeCloseTo(0.0224788734, 6);
  });

  it('zero-conversion and empty arms give no ratio, and no test where there is no data', () => {
    const none = { successes: 0, trials: 1000 };
    expect(relativeUplift(none, variant)).toBeNull();
    expect(absoluteUplift(none, variant)!.estimate).toBeCloseTo(0.05, 12);
    expect(twoProportionPValue(none, none)).toBe(1);
    const empty = { successes: 0, trials: 0 };
    expect(absoluteUplift(empty, variant)).toBeNull();
    expect(relativeUplift(holdout, empty)).toBeNull();
    expect(twoProportionPValue(empty, variant)).toBeNull();
  });

  it('chi-square p-values for k - 1 degrees of freedom', () => {
    expect(chiSquarePValue(11.11111111111111, 2)).toBeCloseTo(0.0038659201, 8);
    expect(chiSquarePValue(3, 1)).toBeCloseTo(0.0832645167, 8);
    expect(chiSquarePValue(30, 3) / 1.3800570312932553e-6).toBeCloseTo(1, 6);
    expect(chiSquarePValue(0.5, 4)).toBeCloseTo(0.9735009788, 8);
    expect(chiSquarePValue(0, 2)).toBe(1);
  });

  it('the sample-ratio check fires on a skewed split and not on a fair one', () => {
    const shares = [0.1, 0.45, 0.45];
    expect(sampleRatioPValue([100, 450, 450], shares)).toBeCloseTo(1, 9);
    expect(sampleRatioPValue([100, 500, 400], shares)).toBeCloseTo(0.0038659201, 8);
    expect(sampleRatioPValue([1000, 4600, 4400], shares)!).toBeGreaterThan(0.001);
    expect(sampleRatioPValue([1000, 5000, 4000], shares)!).toBeLessThan(0.001);
    expect(sampleRatioPValue([0, 0, 0], shares)).toBeNull();
  });

  it('customers per arm to detect 2 points at 80% power', () => {
    // (1.95996 + 0.84162)^2 * (0.03 * 0.97 + 0.05 * 0.95) / 0.02^2 = 1503.06
    expect(sampleSizePerArm(0.03, 0.02)).toBe(1504);
  });
});
