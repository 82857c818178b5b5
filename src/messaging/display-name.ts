const MAX_LENGTH = 40;
export const GENERIC_NAME = 'গ্রাহক';

/**
 * The customer's name as it may appear in a message: letters, marks, digits, spaces and a little
 * punctuation, at most 40 characters. Names are user-entered, so links, percent signs and markup go.
 */
export function displayName(raw: string | null | undefined): string {
  const cleaned = (raw ?? '')
    .replace(/(https?:\/\/|www\.)\S*/gi, ' ')
    .replace(/[^\p{L}\p{M}\p{N} .'_-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  // Cut by code point: a cut through a surrogate pair would leave half a character.
  return Array.from(cleaned).slice(0, MAX_LENGTH).join('').trim() || GENERIC_NAME;
}
