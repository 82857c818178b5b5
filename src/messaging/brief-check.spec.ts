import { bengaliShare, BriefRule, briefViolations } from './brief-check';

const FACTS = { serviceNameBn: 'হোম ক্লিনিং', daysSinceLastBooking: 21 };
const ON_BRIEF = { subject: 'আপনার হোম ক্লিনিং-এর সময় হয়েছে', body: '২১ দিন আগে আপনি হোম ক্লিনিং নিয়েছিলেন।\n\nআবার বুক করুন।' };

function rules(prose: { subject: string; body: string }, facts = FACTS): BriefRule[] {
  return briefViolations(prose, facts).map((violation) => violation.rule);
}

describe('briefViolations', () => {
  it('passes prose that names the service and the days in Bengali digits, in Bengali', () => {
    expect(briefViolations(ON_BRIEF, FACTS)).toEqual([]);
  });

  it('finds the service in the subject alone', () => {
    expect(rules({ subject: ON_BRIEF.subject, body: '২১ দিন কেটে গেছে।\n\nআবার বুক করুন।' })).toEqual([]);
  });

  it('misses a prose about another service', () => {
    expect(rules({ subject: 'প্লাম্বিং-এর সময়', body: '২১ দিন আগে আপনি প্লাম্বিং নিয়েছিলেন।' })).toEqual([BriefRule.Service]);
  });

  it('misses days written in ASCII digits, in words, or only as part of another number', () => {
    expect(rules({ ...ON_BRIEF, body: '21 দিন আগে আপনি হোম ক্লিনিং নিয়েছিলেন।' })).toEqual([BriefRule.Days]);
    expect(rules({ ...ON_BRIEF, body: 'তিন সপ্তাহ আগে আপনি হোম ক্লিনিং নিয়েছিলেন।' })).toEqual([BriefRule.Days]);
    expect(rules(ON_BRIEF, { ...FACTS, daysSinceLastBooking: 2 })).toEqual([BriefRule.Days]);
    expect(rules({ ...ON_BRIEF, body: '১২১ দিন আগে হোম ক্লিনিং।' })).toEqual([BriefRule.Days]);
  });

  it('misses prose under 60% Bengali letters, and names the share', () => {
    const prose = { subject: 'Your হোম ক্লিনিং', body: 'It has been ২১ days since your last cleaning, book again soon.' };
    const [violation] = briefViolations(prose, FACTS);
    expect(violation).toEqual({ rule: BriefRule.BengaliShare, detail: expect.stringMatching(/^\d+% of its letters are Bengali$/) });
  });

  it('reports every rule a prose misses', () => {
    expect(rules({ subject: 'Hello', body: 'Please book again.' })).toEqual([BriefRule.Service, BriefRule.Days, BriefRule.BengaliShare]);
  });
});

describe('bengaliShare', () => {
  it('counts letters and vowel signs, not digits, spaces or punctuation', () => {
    expect(bengaliShare('হোম ক্লিনিং ২১!')).toBe(1);
    expect(bengaliShare('ab কখ')).toBe(0.5);
    expect(bengaliShare('১২৩ 456')).toBe(0);
  });
});
