import { toBengaliDigits } from './bengali';
import { Prose } from './message-content';

/** What an LLM draft must say to be on brief; the values are stored in safety_violations, so keep them stable. */
export enum BriefRule {
  /** The service's Bengali name is not in the subject or body. */
  Service = 'brief_service',
  /** The days since the last booking are not written in Bengali digits. */
  Days = 'brief_days',
  /** Less than BENGALI_SHARE_MIN of the prose's letters are Bengali script. */
  BengaliShare = 'brief_bengali_share',
  /** The composed SMS takes more parts than SMS_MAX_SEGMENTS. */
  SmsParts = 'brief_sms_parts',
}

export interface BriefViolation {
  rule: BriefRule;
  detail: string;
}

/** The facts the prose has to carry. */
export interface BriefFacts {
  serviceNameBn: string;
  daysSinceLastBooking: number;
}

export const BENGALI_SHARE_MIN = 0.6;

const LETTER = /[\p{L}\p{M}]/u;
const BENGALI = /\p{Script=Bengali}/u;

/**
 * Why LLM prose is off brief, if it is: the safety filter stops what must never be sent, this stops what
 * misses the point (a draft about the wrong service, no days, or mostly English).
 */
export function briefViolations(prose: Prose, facts: BriefFacts): BriefViolation[] {
  const text = `${prose.subject}\n${prose.body}`.normalize('NFC');
  const violations: BriefViolation[] = [];
  const service = facts.serviceNameBn.normalize('NFC').trim();
  if (service && !text.includes(service)) {
    violations.push({ rule: BriefRule.Service, detail: `does not mention ${service}` });
  }
  const days = toBengaliDigits(facts.daysSinceLastBooking);
  // ২ must not count as said in ২১: a number is the whole run of digits.
  if (!new RegExp(`(?<![০-৯0-9])${days}(?![০-৯0-9])`, 'u').test(text)) {
    violations.push({ rule: BriefRule.Days, detail: `does not say ${days} days in Bengali digits` });
  }
  const share = bengaliShare(text);
  if (share < BENGALI_SHARE_MIN) {
    violations.push({ rule: BriefRule.BengaliShare, detail: `${Math.round(share * 100)}% of its letters are Bengali` });
  }
  return violations;
}

/** Bengali-script letters (vowel signs included) over all letters; 0 for a text without letters. */
export function bengaliShare(text: string): number {
  let letters = 0;
  let bengali = 0;
  for (const char of text) {
    if (!LETTER.test(char)) continue;
    letters++;
    if (BENGALI.test(char)) bengali++;
  }
  return letters === 0 ? 0 : bengali / letters;
}
