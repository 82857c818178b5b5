/** Used only outside production, where JWT_SECRET is required; the boot log warns about it. */
export const DEVELOPMENT_JWT_SECRET = 'smartengage-development-secret-not-for-production';

/** Shortest JWT_SECRET production accepts, in bytes: HS256 keys shorter than the hash are brute-forceable. */
export const MIN_PRODUCTION_JWT_SECRET_BYTES = 32;

/** Shortest admin key production accepts: a key is a bearer secret, not a password someone types. */
export const MIN_PRODUCTION_ADMIN_KEY_LENGTH = 32;

/**
 * Least entropy, by character frequencies, of a production admin key. Random hex of 32 characters (128 bits)
 * scores 115 on average and never below 90 in 200,000 draws; 32 × `a` scores 0.
 */
export const MIN_PRODUCTION_ADMIN_KEY_BITS = 80;

/**
 * Values anyone can read in this repository (the development secret, the examples in the docs and
 * docker-compose.yml): in production they protect nothing. Any value containing "change-me" counts too.
 */
const PUBLISHED_VALUES = new Set([
  DEVELOPMENT_JWT_SECRET,
  'change-me-to-a-long-random-secret',
  'change-me-to-a-long-random-secret-of-32-chars',
  'change-me-to-an-admin-key-of-at-least-32-characters',
  'key-one',
  'key-two',
]);

export function isPublishedValue(value: string): boolean {
  return PUBLISHED_VALUES.has(value) || /change-?me/i.test(value);
}

/** Visible ASCII only: a key travels in an Authorization header, where controls, spaces and non-ASCII break or vanish. */
export const isHeaderSafe = (value: string): boolean => /^[\x21-\x7e]+$/.test(value);

/**
 * Bits a guesser would need by the key's own character frequencies (Shannon entropy times length), or 0 for a
 * repeated pattern such as `abcabc…`. An estimate that only ever errs low for a truly random key.
 */
export function estimatedEntropyBits(value: string): number {
  if (/^(.+?)\1+$/s.test(value)) return 0;
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bitsPerChar = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bitsPerChar -= p * Math.log2(p);
  }
  return bitsPerChar * value.length;
}
