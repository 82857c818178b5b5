/**
 * Assignment by hashing, portable on purpose: GrowthBook's version-2 hash (FNV-1a 32-bit applied twice), so a
 * team on GrowthBook's SDKs, or a warehouse query, computes the same bucket for the same experiment key and
 * customer id. See packages/sdk-js/src/util.ts in growthbook/growthbook.
 */

/** Buckets per experiment: a bucket is 0.01% of customers. */
export const BUCKETS = 10_000;

/** FNV-1a, 32 bits, over UTF-16 code units (as GrowthBook's JavaScript SDK does). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    // hash * 16777619 (the FNV prime) modulo 2^32, without leaving 32-bit integers.
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** GrowthBook's `hash(seed, value, 2)` as an integer bucket in [0, 10000). */
export function bucketOf(seed: string, value: string): number {
  return fnv1a32(String(fnv1a32(seed + value))) % BUCKETS;
}

export interface ArmWeight {
  name: string;
  weight: number;
}

/** The arm a bucket falls in; the holdout takes the first `holdoutPercent` of buckets. */
export const HOLDOUT = 'holdout';

/**
 * The bucket ranges of the arms: the holdout takes [0, holdoutPercent * 100), the variants share the rest in
 * proportion to their weights, in their declared order. Integer bounds, so every bucket belongs to one arm.
 */
export function armRanges(holdoutPercent: number, variants: readonly ArmWeight[]): Array<{ name: string; from: number; to: number }> {
  const holdoutEnd = Math.round(holdoutPercent * (BUCKETS / 100));
  const ranges = [{ name: HOLDOUT, from: 0, to: holdoutEnd }];
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  let cumulative = 0;
  let from = holdoutEnd;
  for (const variant of variants) {
    cumulative += variant.weight;
    const to = holdoutEnd + Math.round(((BUCKETS - holdoutEnd) * cumulative) / total);
    ranges.push({ name: variant.name, from, to });
    from = to;
  }
  return ranges;
}

export function armOf(bucket: number, holdoutPercent: number, variants: readonly ArmWeight[]): string {
  const range = armRanges(holdoutPercent, variants).find((r) => bucket >= r.from && bucket < r.to);
  return range ? range.name : variants[variants.length - 1].name;
}

/** The share of customers each arm is configured to get, for the sample-ratio check. */
export function expectedShares(holdoutPercent: number, variants: readonly ArmWeight[]): Map<string, number> {
  return new Map(armRanges(holdoutPercent, variants).map((r) => [r.name, (r.to - r.from) / BUCKETS]));
}
