import { expectedShares, HOLDOUT } from './experiment-hash';
import { ArmCounts } from './experiment.repository';
import { VariantDefinition } from './experiment.entity';
import {
  absoluteUplift,
  ALPHA,
  Interval,
  Proportion,
  relativeUplift,
  sampleRatioPValue,
  sampleSizePerArm,
  twoProportionPValue,
  wilsonInterval,
} from './experiment-stats';

/** GrowthBook's default: below this the split is broken and the uplift not to be trusted. */
export const SRM_THRESHOLD = 0.001;
/** The difference the "how many more customers" estimate is for: 2 points, at 80% power. */
export const DETECTABLE_DIFFERENCE = 0.02;
export const POWER = 0.8;

export interface ArmResult {
  name: string;
  assigned: number;
  messaged: number;
  clicked: number;
  converted: number;
  conversion_rate: number | null;
  conversion_rate_ci: Interval | null;
  /** Variants only, against the holdout (a fraction: 0.021 is 2.1 points). */
  absolute_uplift?: number | null;
  absolute_uplift_ci?: Interval | null;
  relative_uplift?: number | null;
  relative_uplift_ci?: Interval | null;
  p_value?: number | null;
}

export interface ExperimentResults {
  arms: ArmResult[];
  srm_p_value: number | null;
  srm_warning: string | null;
  best_variant: string | null;
  /** Whether the best variant converts significantly better than the runner-up; null with one variant. */
  best_beats_runner_up: boolean | null;
  verdict: string[];
}

export interface ResultsInput {
  holdoutPercent: number;
  variants: readonly VariantDefinition[];
  counts: readonly ArmCounts[];
}

/** The results of an experiment from its per-arm counts: intervals, uplifts, tests, the SRM check, the verdict. */
export function experimentResults({ holdoutPercent, variants, counts }: ResultsInput): ExperimentResults {
  const names = [...(holdoutPercent > 0 ? [HOLDOUT] : []), ...variants.map((v) => v.name)];
  const byArm = new Map(counts.map((c) => [c.arm, c]));
  const countsOf = (name: string): ArmCounts => byArm.get(name) ?? { arm: name, assigned: 0, messaged: 0, clicked: 0, converted: 0 };
  const proportion = (name: string): Proportion => ({ successes: countsOf(name).converted, trials: countsOf(name).assigned });
  const holdout = holdoutPercent > 0 ? proportion(HOLDOUT) : null;

  const arms = names.map((name): ArmResult => {
    const c = countsOf(name);
    const base: ArmResult = {
      name,
      assigned: c.assigned,
      messaged: c.messaged,
      clicked: c.clicked,
      converted: c.converted,
      conversion_rate: c.assigned > 0 ? round(c.converted / c.assigned) : null,
      conversion_rate_ci: roundInterval(wilsonInterval(c.converted, c.assigned)),
    };
    if (name === HOLDOUT || !holdout) return base;
    const absolute = absoluteUplift(holdout, proportion(name));
    const relative = relativeUplift(holdout, proportion(name));
    const p = twoProportionPValue(holdout, proportion(name));
    return {
      ...base,
      absolute_uplift: absolute ? round(absolute.estimate) : null,
      absolute_uplift_ci: roundInterval(absolute?.interval ?? null),
      relative_uplift: relative ? round(relative.estimate) : null,
      relative_uplift_ci: roundInterval(relative?.interval ?? null),
      p_value: p === null ? null : round(p),
    };
  });

  const shares = expectedShares(holdoutPercent, variants);
  const srm = sampleRatioPValue(
    names.map((name) => countsOf(name).assigned),
    names.map((name) => shares.get(name) ?? 0),
  );
  const srmWarning =
    srm !== null && srm < SRM_THRESHOLD
      ? `sample ratio mismatch (p ${formatP(srm)}): the arm sizes do not match the configured split, so the assignment or the data is broken; do not trust the uplift until the cause is found`
      : null;

  const verdict: string[] = [];
  if (names.every((name) => countsOf(name).assigned === 0)) verdict.push('no customers assigned yet');
  else if (srmWarning) verdict.push(srmWarning);
  if (holdout && verdict[0] !== 'no customers assigned yet') {
    for (const arm of arms.filter((a) => a.name !== HOLDOUT)) verdict.push(againstHoldout(arm, holdout, proportion(arm.name)));
  }
  const ranking = rankVariants(variants.map((v) => v.name), proportion);
  if (ranking) verdict.push(ranking.sentence);
  return {
    arms,
    srm_p_value: srm === null ? null : round(srm),
    srm_warning: srmWarning,
    best_variant: ranking?.best ?? null,
    best_beats_runner_up: ranking?.significant ?? null,
    verdict,
  };
}

function againstHoldout(arm: ArmResult, holdout: Proportion, variant: Proportion): string {
  const absolute = absoluteUplift(holdout, variant);
  const p = twoProportionPValue(holdout, variant);
  if (absolute && p !== null && p < ALPHA) {
    const { estimate, interval } = absolute;
    const direction = estimate >= 0 ? 'better' : 'worse';
    return (
      `${arm.name} converts ${points(Math.abs(estimate))} points ${direction} than no message ` +
      `(95% CI ${points(interval.lower)} to ${points(interval.upper)}, p ${formatP(p)})`
    );
  }
  const more = moreCustomersNeeded(holdout, variant);
  if (more > 0) {
    return `${arm.name}: not enough data yet: about ${more.toLocaleString('en-US')} more customers per arm to detect a 2-point difference at 80% power`;
  }
  const interval = absolute ? ` (95% CI ${points(absolute.interval.lower)} to ${points(absolute.interval.upper)} points, p ${formatP(p!)})` : '';
  return `${arm.name}: no significant difference from no message${interval}`;
}

/** How many more customers each of the two arms needs for 80% power against a 2-point difference. */
function moreCustomersNeeded(a: Proportion, b: Proportion): number {
  const trials = a.trials + b.trials;
  // The holdout's rate is the baseline; with no holdout data yet, both arms' rate.
  const baseline = a.trials > 0 ? a.successes / a.trials : trials > 0 ? (a.successes + b.successes) / trials : 0;
  return Math.max(0, sampleSizePerArm(baseline, DETECTABLE_DIFFERENCE, POWER) - Math.min(a.trials, b.trials));
}

function rankVariants(
  names: string[],
  proportion: (name: string) => Proportion,
): { best: string; significant: boolean | null; sentence: string } | null {
  const withData = names.filter((name) => proportion(name).trials > 0);
  if (withData.length === 0) return null;
  const rateOf = (name: string) => proportion(name).successes / proportion(name).trials;
  const [best, runnerUp] = [...withData].sort((x, y) => rateOf(y) - rateOf(x));
  if (names.length < 2) return { best, significant: null, sentence: `${best} is the only variant` };
  if (!runnerUp) return { best, significant: false, sentence: `${best} is the only variant with customers so far` };
  const p = twoProportionPValue(proportion(runnerUp), proportion(best))!;
  const gap = points(rateOf(best) - rateOf(runnerUp));
  const significant = p < ALPHA;
  const sentence = significant
    ? `${best} is the best variant: ${gap} points ahead of ${runnerUp}, significantly (p ${formatP(p)})`
    : `${best} leads ${runnerUp} by ${gap} points, not significantly (p ${formatP(p)}): no variant is the winner yet`;
  return { best, significant, sentence };
}

const points = (fraction: number) => (fraction * 100).toFixed(1);

export function formatP(p: number): string {
  return p < 0.001 ? '< 0.001' : `= ${p.toFixed(3)}`;
}

const round = (value: number) => Math.round(value * 1e6) / 1e6;

function roundInterval(interval: Interval | null): Interval | null {
  return interval ? { lower: round(interval.lower), upper: round(interval.upper) } : null;
}
