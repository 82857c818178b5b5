import { displayName, GENERIC_NAME } from './display-name';

describe('displayName', () => {
  it('keeps letters, marks, digits and simple punctuation', () => {
    expect(displayName("  Md. Rahim-Uddin O'Neil  ")).toBe("Md. Rahim-Uddin O'Neil");
    expect(displayName('নাভিদ কামাল')).toBe('নাভিদ কামাল');
  });

  it('drops links, markup and percent signs', () => {
    expect(displayName('Rahim https://evil.com/x <b>50%</b>')).toBe('Rahim b 50 b');
  });

  it('falls back to the generic greeting when nothing is left', () => {
    expect(displayName(null)).toBe(GENERIC_NAME);
    expect(displayName('%%% <>')).toBe(GENERIC_NAME);
  });

  it('cuts at 40 characters without splitting a character outside the BMP', () => {
    const fancy = displayName('𝓙'.repeat(45));
    expect(Array.from(fancy)).toHaveLength(40);
    expect(fancy).toBe('𝓙'.repeat(40));
    expect(displayName('ক'.repeat(39) + '𝓙𝓙')).toBe('ক'.repeat(39) + '𝓙');
  });
});
