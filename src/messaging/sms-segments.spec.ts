import {
  countSmsSegments,
  GSM7_MULTI_SEGMENT,
  GSM7_SINGLE_SEGMENT,
  smsEncoding,
  UCS2_MULTI_SEGMENT,
  UCS2_SINGLE_SEGMENT,
} from './sms-segments';

const BN = 'ক';
const EMOJI = '🔧';

describe('smsEncoding', () => {
  it('is GSM-7 for plain English with punctuation, newlines and GSM-only letters', () => {
    expect(smsEncoding('Hello, world! 50% off @ £5\nÅngström é')).toBe('GSM-7');
  });

  it('is GSM-7 for extension-table characters', () => {
    expect(smsEncoding('^{}\\[~]|€')).toBe('GSM-7');
  });

  it('is UCS-2 for Bengali, for Bengali mixed with English, and for an emoji', () => {
    expect(smsEncoding('প্লাম্বিং')).toBe('UCS-2');
    expect(smsEncoding(`Book now ${BN}`)).toBe('UCS-2');
    expect(smsEncoding(`Book now ${EMOJI}`)).toBe('UCS-2');
  });

  it('is UCS-2 for characters that only look like GSM ones (curly quotes, backtick)', () => {
    expect(smsEncoding('it’s')).toBe('UCS-2');
    expect(smsEncoding('`code`')).toBe('UCS-2');
  });
});

describe('countSmsSegments', () => {
  it('counts an empty text as 0 segments', () => {
    expect(countSmsSegments('')).toEqual({
      encoding: 'GSM-7',
      units: 0,
      segments: 0,
      perSegment: GSM7_SINGLE_SEGMENT,
    });
  });

  describe('GSM-7', () => {
    it.each([
      [1, 1, GSM7_SINGLE_SEGMENT],
      [160, 1, GSM7_SINGLE_SEGMENT],
      [161, 2, GSM7_MULTI_SEGMENT],
      [306, 2, GSM7_MULTI_SEGMENT],
      [307, 3, GSM7_MULTI_SEGMENT],
    ])('%i English characters take %i segment(s)', (length, segments, perSegment) => {
      expect(countSmsSegments('a'.repeat(length))).toEqual({ encoding: 'GSM-7', units: length, segments, perSegment });
    });

    it('counts extension characters as two septets', () => {
      expect(countSmsSegments('{€}')).toMatchObject({ encoding: 'GSM-7', units: 6, segments: 1 });
      expect(countSmsSegments('a'.repeat(158) + '€')).toMatchObject({ units: 160, segments: 1 });
      expect(countSmsSegments('a'.repeat(159) + '€')).toMatchObject({ units: 161, segments: 2 });
    });

    it('moves an extension character that would straddle a part boundary to the next part', () => {
      // 152 + 2 + 152 = 306 septets: fits 2 × 153 by arithmetic, but ESC + € cannot be split.
      const text = 'a'.repeat(152) + '€' + 'a'.repeat(152);

      expect(countSmsSegments(text)).toMatchObject({ units: 306, segments: 3 });
    });
  });

  describe('UCS-2', () => {
    it.each([
      [70, 1, UCS2_SINGLE_SEGMENT],
      [71, 2, UCS2_MULTI_SEGMENT],
      [134, 2, UCS2_MULTI_SEGMENT],
      [135, 3, UCS2_MULTI_SEGMENT],
    ])('%i Bengali characters take %i segment(s)', (length, segments, perSegment) => {
      expect(countSmsSegments(BN.repeat(length))).toEqual({ encoding: 'UCS-2', units: length, segments, perSegment });
    });

    it('switches the whole text to UCS-2 when one Bengali character is mixed into English', () => {
      // 100 characters: one GSM-7 part if English only, two UCS-2 parts with the Bengali letter.
      const text = 'a'.repeat(99) + BN;

      expect(countSmsSegments(text)).toEqual({ encoding: 'UCS-2', units: 100, segments: 2, perSegment: 67 });
      expect(countSmsSegments('a'.repeat(100))).toMatchObject({ encoding: 'GSM-7', segments: 1 });
    });

    it('counts an emoji as two code units', () => {
      expect(countSmsSegments(BN.repeat(68) + EMOJI)).toMatchObject({ units: 70, segments: 1 });
      expect(countSmsSegments(BN.repeat(69) + EMOJI)).toMatchObject({ units: 71, segments: 2 });
    });

    it('moves an emoji that would straddle the 67-unit boundary to the next part', () => {
      // 66 + 2 + 66 = 134 units: 2 parts by arithmetic, but the surrogate pair cannot be split,
      // so part 1 holds 66 units, part 2 the emoji and 65 letters, part 3 the last letter.
      const straddling = BN.repeat(66) + EMOJI + BN.repeat(66);
      // The same units with the emoji fully inside part 1 still fit in 2 parts.
      const aligned = BN.repeat(65) + EMOJI + BN.repeat(67);

      expect(countSmsSegments(straddling)).toMatchObject({ units: 134, segments: 3 });
      expect(countSmsSegments(aligned)).toMatchObject({ units: 134, segments: 2 });
    });

    it('counts a real Bengali reminder', () => {
      const reminder =
        'প্রিয় নাভিদ, আপনার প্লাম্বিং সার্ভিসের ২১ দিন হয়ে গেছে। ২০% ছাড় নিয়ে আবার বুক করুন: https://app.sheba.xyz/b/Xk9 কোড VIP20';

      expect(countSmsSegments(reminder)).toEqual({ encoding: 'UCS-2', units: 125, segments: 2, perSegment: 67 });
      // A sign-off of 11 characters pushes it past 2 × 67 units into a third part.
      expect(countSmsSegments(`${reminder} — ShoktiAI`)).toMatchObject({ units: 136, segments: 3 });
    });
  });
});
