import { experimentResults } from './experiment-results';

const variants = [
  { name: 'friendly', weight: 1 },
  { name: 'premium', weight: 1 },
];
const arm = (arm: string, assigned: number, converted: number) => ({ arm, assigned, messaged: 0, clicked: 0, converted });

describe('experimentResults', () => {
  it('holdout 1,000/30, premium 1,000/50: uplift, intervals, p-value and the verdict in words', () => {
    const results = experimentResults({
      holdoutPercent: 10,
      variants,
      counts: [arm('holdout', 1000, 30), arm('premium', 1000, 50), arm('friendly', 1000, 31)],
    });
    const premium = results.arms.find((a) => a.name === 'premium')!;
    expect(premium).toMatchObject({
      assigned: 1000,
      converted: 50,
      conversion_rate: 0.05,
      conversion_rate_ci: { lower: 0.03813, upper: 0.065314 },
      absolute_uplift: 0.02,
      absolute_uplift_ci: { lower: 0.002846, upper: 0.037154 },
      relative_uplift: 0.666667,
      relative_uplift_ci: { lower: -0.073444, upper: 1.406777 },
      p_value: 0.022479,
    });
    expect(results.arms.map((a) => a.name)).toEqual(['holdout', 'friendly', 'premium']);
    expect(results.arms[0]).not.toHaveProperty('p_value');
    expect(results.verdict).toContain('premium converts 2.0 points better than no message (95% CI 0.3 to 3.7, p = 0.022)');
    // friendly: 3.1% vs 3.0%, not significant; 1,504 per arm are needed for 2 points at 80% power.
    expect(results.verdict).toContain(
      'friendly: not enough data yet: about 504 more customers per arm to detect a 2-point difference at 80% power',
    );
    expect(results.best_variant).toBe('premium');
    expect(results.best_beats_runner_up).toBe(true);
  });

  it('flags a sample-ratio mismatch on a skewed split and not on a fair one', () => {
    const skewed = experimentResults({
      holdoutPercent: 10,
      variants,
      counts: [arm('holdout', 1000, 0), arm('friendly', 5000, 0), arm('premium', 4000, 0)],
    });
    expect(skewed.srm_p_value).toBeLessThan(0.001);
    expect(skewed.srm_warning).toMatch(/^sample ratio mismatch \(p < 0\.001\)/);
    expect(skewed.verdict[0]).toBe(skewed.srm_warning);

    const fair = experimentResults({
      holdoutPercent: 10,
      variants,
      counts: [arm('holdout', 1010, 0), arm('friendly', 4480, 0), arm('premium', 4510, 0)],
    });
    expect(fair.srm_p_value).toBeGreaterThan(0.5);
    expect(fair.srm_warning).toBeNull();
  });

  it('empty and zero-conversion arms give nulls, not errors', () => {
    const empty = experimentResults({ holdoutPercent: 10, variants, counts: [] });
    expect(empty.arms.every((a) => a.assigned === 0 && a.conversion_rate === null && a.conversion_rate_ci === null)).toBe(true);
    expect(empty.srm_p_value).toBeNull();
    expect(empty.best_variant).toBeNull();
    expect(empty.verdict).toEqual(['no customers assigned yet']);

    const zero = experimentResults({
      holdoutPercent: 10,
      variants,
      counts: [arm('holdout', 100, 0), arm('friendly', 450, 0), arm('premium', 450, 9)],
    });
    const premium = zero.arms.find((a) => a.name === 'premium')!;
    expect(premium.relative_uplift).toBeNull();
    expect(premium.relative_uplift_ci).toBeNull();
    expect(premium.absolute_uplift).toBe(0.02);
    expect(zero.arms[0].conversion_rate_ci!.lower).toBe(0);
  });

  // 2.2% pooled over 500 + 500: z = 0.43, p = 0.666 (scipy.stats.norm.sf).
  it('without a holdout compares the variants only', () => {
    const results = experimentResults({
      holdoutPercent: 0,
      variants,
      counts: [arm('friendly', 500, 10), arm('premium', 500, 12)],
    });
    expect(results.arms.map((a) => a.name)).toEqual(['friendly', 'premium']);
    expect(results.arms[1]).not.toHaveProperty('absolute_uplift');
    expect(results.best_beats_runner_up).toBe(false);
    expect(results.verdict).toEqual(['premium leads friendly by 0.4 points, not significantly (p = 0.666): no variant is the winner yet']);
  });
});
