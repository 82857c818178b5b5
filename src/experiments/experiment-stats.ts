/**
 * The statistics of an experiment's results, as small pure functions: the normal distribution, Wilson intervals,
 * the two-proportion z-test, the uplift and its intervals (relative uplift by the delta method, as GrowthBook's
 * stats engine computes it), Pearson's chi-square for the sample ratio, and the sample size for a given power.
 */

/** Two-sided 95%. */
export const ALPHA = 0.05;

/** erfc(x), Chebyshev fit (Numerical Recipes' erfcc): relative error below 1.2e-7 everywhere, tails included. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z <= x) for a standard normal Z. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** The x with P(Z <= x) = p (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const Z_95 = normalQuantile(1 - ALPHA / 2);

export interface Interval {
  lower: number;
  upper: number;
}

/** 95% Wilson score interval of a proportion; null with no observations. */
export function wilsonInterval(successes: number, trials: number, z = Z_95): Interval | null {
  if (trials === 0) return null;
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

export interface Proportion {
  successes: number;
  trials: number;
}

const rate = ({ successes, trials }: Proportion) => successes / trials;

/** Two-sided p-value of the two-proportion z-test with the pooled proportion; null when it is undefined. */
export function twoProportionPValue(control: Proportion, treatment: Proportion): number | null {
  if (control.trials === 0 || treatment.trials === 0) return null;
  const pooled = (control.successes + treatment.successes) / (control.trials + treatment.trials);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / control.trials + 1 / treatment.trials));
  if (se === 0) return 1; // both arms all-or-nothing alike: no evidence of a difference
  const z = (rate(treatment) - rate(control)) / se;
  return 2 * normalCdf(-Math.abs(z));
}

/** Difference of the rates (treatment - control) with its 95% interval from the unpooled standard error. */
export function absoluteUplift(control: Proportion, treatment: Proportion, z = Z_95): { estimate: number; interval: Interval } | null {
  if (control.trials === 0 || treatment.trials === 0) return null;
  const [pc, pt] = [rate(control), rate(treatment)];
  const se = Math.sqrt((pc * (1 - pc)) / control.trials + (pt * (1 - pt)) / treatment.trials);
  const estimate = pt - pc;
  return { estimate, interval: { lower: estimate - z * se, upper: estimate + z * se } };
}

/**
 * Relative uplift (pt / pc - 1) with its 95% interval by the delta method, as GrowthBook documents it:
 * Var = σt² / (nt·μc²) + σc²·μt² / (nc·μc⁴), σ² = p(1 - p). Null when the control rate is 0 (no ratio).
 */
export function relativeUplift(control: Proportion, treatment: Proportion, z = Z_95): { estimate: number; interval: Interval } | null {
  if (control.trials === 0 || treatment.trials === 0 || control.successes === 0) return null;
  const [pc, pt] = [rate(control), rate(treatment)];
  const variance = (pt * (1 - pt)) / (treatment.trials * pc * pc) + (pc * (1 - pc) * pt * pt) / (control.trials * pc ** 4);
  const se = Math.sqrt(variance);
  const estimate = pt / pc - 1;
  return { estimate, interval: { lower: estimate - z * se, upper: estimate + z * se } };
}

/** ln Γ(x), Lanczos (g = 7, n = 9). */
function lnGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let sum = g[0];
  for (let i = 1; i < 9; i++) sum += g[i] / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Q(a, x), the regularised upper incomplete gamma function (series below a + 1, continued fraction above). */
function upperGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPrefix = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 500 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * Math.exp(lnPrefix);
  }
  // Lentz's method.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(lnPrefix) * h;
}

/** P(X >= x) for X chi-square with `df` degrees of freedom. */
export function chiSquarePValue(statistic: number, df: number): number {
  return upperGamma(df / 2, statistic / 2);
}

/**
 * Sample-ratio check: Pearson's chi-square of the observed counts against the expected shares (k - 1 degrees of
 * freedom). Null with fewer than two arms or no observations.
 */
export function sampleRatioPValue(observed: readonly number[], shares: readonly number[]): number | null {
  const total = observed.reduce((sum, n) => sum + n, 0);
  const arms = shares.map((share, i) => ({ share, observed: observed[i] })).filter((arm) => arm.share > 0);
  if (total === 0 || arms.length < 2) return null;
  const shareTotal = arms.reduce((sum, arm) => sum + arm.share, 0);
  const statistic = arms.reduce((sum, arm) => {
    const expected = (total * arm.share) / shareTotal;
    return sum + (arm.observed - expected) ** 2 / expected;
  }, 0);
  return chiSquarePValue(statistic, arms.length - 1);
}

/**
 * Customers per arm a two-sided test at ALPHA needs to detect `difference` over `baseline` with `power`
 * (normal approximation, unpooled variances).
 */
export function sampleSizePerArm(baseline: number, difference: number, power = 0.8): number {
  const treated = Math.min(1, baseline + difference);
  const zSum = Z_95 + normalQuantile(power);
  return Math.ceil((zSum * zSum * (baseline * (1 - baseline) + treated * (1 - treated))) / (difference * difference));
}
