/** Septets in a single-part GSM-7 SMS. */
export const GSM7_SINGLE_SEGMENT = 160;
/** Septets per part of a concatenated GSM-7 SMS (the user data header takes the rest). */
export const GSM7_MULTI_SEGMENT = 153;
/** UTF-16 code units in a single-part UCS-2 SMS. */
export const UCS2_SINGLE_SEGMENT = 70;
/** UTF-16 code units per part of a concatenated UCS-2 SMS. */
export const UCS2_MULTI_SEGMENT = 67;

/** GSM 03.38 default alphabet, one septet each (ESC 0x1B left out: it only prefixes extension characters). */
const GSM7_BASIC_CHARS =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** GSM 03.38 extension table: ESC plus the character, so two septets each. */
const GSM7_EXTENSION_CHARS = '\f^{}\\[~]|€';

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsSegmentCount {
  encoding: SmsEncoding;
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
  /** Parts the SMS is sent in; 0 for an empty text. */
  segments: number;
  /** Capacity of one part at this length: the single-part limit, or the smaller one once split. */
  perSegment: number;
}

const BASIC = new Set(GSM7_BASIC_CHARS);
const EXTENSION = new Set(GSM7_EXTENSION_CHARS);

/** GSM-7 when every character is in the default alphabet or its extension table, otherwise UCS-2. */
export function smsEncoding(text: string): SmsEncoding {
  for (const char of text) {
    if (!BASIC.has(char) && !EXTENSION.has(char)) return 'UCS-2';
  }
  return 'GSM-7';
}

/**
 * How many parts a text takes. Parts are counted by walking the text, because an extension
 * character (ESC + char) or a surrogate pair may not be split: it moves whole to the next part.
 * An empty text counts 0 segments, since nothing would be sent.
 */
export function countSmsSegments(text: string): SmsSegmentCount {
  const encoding = smsEncoding(text);
  const sizes = [...text].map((char) =>
    encoding === 'GSM-7' ? (EXTENSION.has(char) ? 2 : 1) : char.length,
  );
  const units = sizes.reduce((sum, size) => sum + size, 0);
  const [single, multi] =
    encoding === 'GSM-7' ? [GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT] : [UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT];

  if (units === 0) return { encoding, units, segments: 0, perSegment: single };
  if (units <= single) return { encoding, units, segments: 1, perSegment: single };
  return { encoding, units, segments: countParts(sizes, multi), perSegment: multi };
}

function countParts(sizes: number[], perPart: number): number {
  let parts = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > perPart) {
      parts += 1;
      used = 0;
    }
    used += size;
  }
  return parts;
}
