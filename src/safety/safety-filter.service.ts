import { Injectable } from '@nestjs/common';
import { findProfanity } from './profanity';
import { SafetyCandidate, SafetyPolicy, SafetyRule, SafetyVerdict, SafetyViolation } from './safety.types';

const SUBJECT_MIN_LENGTH = 5;
const SUBJECT_MAX_LENGTH = 150;
const TEXT_MIN_LENGTH = 60;
const TEXT_MAX_LENGTH = 4000;
const SMS_MIN_LENGTH = 20;
const SMS_MAX_LENGTH = 700;
/** Share of letters that must be Bengali once links, the promo code and trusted tokens are taken out. */
const MIN_BENGALI_RATIO = 0.6;

const HTTP_URL = /https?:\/\/[!-~]+/gi;
const WWW_HOST = /(?<![a-z0-9.])www\.[!-~]+/gi;
// Boundaries are ASCII-only so "evil.comএ" (a Bengali suffix glued on) is still a link.
const BARE_HOST = /(?<![a-z0-9.])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+([a-z]{2,24})(?![a-z0-9])(\/[!-~]*)?/gi;
const IP_HOST = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)/g;
const TRAILING_PUNCTUATION = /[.,;:!?'"()[\]{}<>]+$/;

/**
 * A bare "name.tld" counts as a link only with one of these TLDs (or a path), so names such as
 * "Md.Karim", times like "10.30am" and decimals stay text.
 */
const LINK_TLDS = new Set(
  (
    'com net org info biz xyz io co me ly gl gd to tk ml ga cf gq cc tv ws ai app dev page link site online ' +
    'website web store shop top club live pro click icu vip win bid loan work fun space tech cloud news blog ' +
    'email today world life best buzz lol rest bar zip mov asia mobi name bd in pk uk us ru cn de fr nl eu au ' +
    'ca jp br tr ir id sg ph vn th ae sa qa lk np kr hk tw es pl ua su ch se nz za ng ke eg'
  ).split(' '),
);


const CODE_LIKE = /(?<![A-Za-z0-9])[A-Z]{2,}[0-9]+(?![A-Za-z0-9])/g;
const CODE_MIN_LENGTH = 4;
const CODE_MAX_LENGTH = 20;
const LABELLED_CODE = bengali(
  String.raw`(?:promo\s*-?\s*code|coupon(?:\s*code)?|voucher(?:\s*code)?|প্রো?মো\s*কোড|কুপন(?:\s*কোড)?|ভাউচার(?:\s*কোড)?)` +
    String.raw`[\s:=“”"'‘’()\-–—]*([A-Za-z0-9][A-Za-z0-9_-]{2,19})(?![A-Za-z0-9_-])`,
  'giu',
);

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
// NFKC has already folded ％ and ﹪ into %.
const PERCENT_AFTER = bengali(String.raw`(?<![\d.])${NUMBER}\s*(?:%|٪|per\s*cent|শতাংশ|পার্সেন্ট|পারসেন্ট)`, 'giu');
const PERCENT_BEFORE = bengali(String.raw`শতকরা\s*${NUMBER}`, 'gu');

const AMOUNT = String.raw`\d[\d,]*(?:\.\d+)?`;
const MONEY = bengali(
  [
    String.raw`(?:৳|(?<![a-z])(?:tk|bdt|taka|rs)\.?)\s*${AMOUNT}`,
    String.raw`${AMOUNT}\s*(?:৳|টাকা|(?:tk|bdt|taka)(?![a-z])|\/-)`,
    String.raw`টাকা\s*(?:ছাড়|কম|ফেরত)`,
    String.raw`ক্যাশব্যাক|cash\s*-?\s*back`,
  ].join('|'),
  'giu',
);

// "hassle-free" / "টেনশন-ফ্রি" mean "without", and ফ্রিজ is a fridge, hence the boundaries.
const FREE = bengali(
  [
    String.raw`(?<![a-z0-9-])free(?![a-z0-9])`,
    String.raw`(?<![\p{L}\p{M}-])(?:ফ্রি|ফ্রী)(?:তে)?(?![\p{L}\p{M}])`,
    String.raw`বিনা\s*মূল্য`,
    String.raw`বিনা\s*(?:খরচে|পয়সায়)`,
    String.raw`মাগনা`,
  ].join('|'),
  'giu',
);

/**
 * Checks a composed message before it is sent. Pure and synchronous: the caller decides what a
 * rejection means (fall back to the template, or refuse to send).
 */
@Injectable()
export class SafetyFilterService {
  check(candidate: SafetyCandidate, policy: SafetyPolicy): SafetyVerdict {
    const { links, rest } = extractLinks(normalise(`${candidate.subject}\n${candidate.text}`));
    const foreignLinks = unique(links.filter((link) => !isAllowedLink(link, policy.allowedUrlPrefixes)));

    const violations: SafetyViolation[] = [
      ...lengthViolations(candidate),
      ...scriptViolations(rest, policy),
      ...foreignLinks.map((link) => violation(SafetyRule.ForeignUrl, `link not allowed: ${link}`)),
      ...promoViolations(rest, policy.offer),
      ...discountViolations(rest, policy.offer),
      ...unique(matches(rest, MONEY)).map((found) => violation(SafetyRule.MoneyOffer, `money amount: "${found}"`)),
      ...unique(matches(rest, FREE)).map((found) => violation(SafetyRule.FreeOffer, `free offer: "${found}"`)),
      // Links are left out: base64 tokens in our own links would otherwise spell words by chance.
      ...findProfanity(rest, { normalised: true }).map((word) => violation(SafetyRule.Profanity, `profanity: "${word}"`)),
    ];
    return { passed: violations.length === 0, violations };
  }
}

/**
 * One form for every check: NFKC folds full-width look-alikes (ｅｖｉｌ．ｃｏｍ, ５０％), format characters
 * such as zero-width spaces could split a link or word, and Bengali/Arabic/Devanagari digits become ASCII.
 */
function normalise(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .replace(/[\u09E6-\u09EF\u0660-\u0669\u06F0-\u06F9\u0966-\u096F]/g, (digit) => {
      const code = digit.charCodeAt(0);
      return String(code - [0x09e6, 0x0660, 0x06f0, 0x0966].find((zero) => code >= zero && code <= zero + 9)!);
    });
}

/** Pulls out every link-like string; the rest is what the text checks see, so link digits never count. */
function extractLinks(text: string): { links: string[]; rest: string } {
  const links: string[] = [];
  const take = (match: string) => {
    const link = match.replace(TRAILING_PUNCTUATION, '');
    links.push(link);
    return ` ${match.slice(link.length)}`;
  };
  // Full URLs go first, so our own links (app.sheba.xyz/...) never reach the bare-host pattern.
  const rest = text
    .replace(HTTP_URL, take)
    .replace(WWW_HOST, take)
    .replace(BARE_HOST, (match: string, tld: string, path: string | undefined) =>
      LINK_TLDS.has(tld.toLowerCase()) || path ? take(match) : match,
    )
    .replace(IP_HOST, take);
  return { links, rest };
}

function isAllowedLink(link: string, prefixes: string[]): boolean {
  return prefixes.some((prefix) => {
    if (!prefix || !link.startsWith(prefix)) return false;
    // Otherwise "http://localhost:8000" would allow "http://localhost:8000.evil.com".
    const next = link.charAt(prefix.length);
    return next === '' || prefix.endsWith('/') || '/?#'.includes(next);
  });
}

function lengthViolations(candidate: SafetyCandidate): SafetyViolation[] {
  // An SMS has no subject and is short by nature; its length budget is counted in parts elsewhere.
  const limits: [string, string, number, number][] =
    candidate.channel === 'sms'
      ? [['text', candidate.text, SMS_MIN_LENGTH, SMS_MAX_LENGTH]]
      : [
          ['subject', candidate.subject, SUBJECT_MIN_LENGTH, SUBJECT_MAX_LENGTH],
          ['text', candidate.text, TEXT_MIN_LENGTH, TEXT_MAX_LENGTH],
        ];
  return limits.flatMap(([field, value, min, max]) => {
    const length = [...value.trim()].length;
    return length < min || length > max
      ? [violation(SafetyRule.Length, `${field} has ${length} characters; allowed ${min}-${max}`)]
      : [];
  });
}

function scriptViolations(text: string, policy: SafetyPolicy): SafetyViolation[] {
  // Longest first, so "ShoktiAI Team" goes before "ShoktiAI" can split it.
  const ours = [policy.offer?.promoCode, ...policy.trustedTokens]
    .filter((token): token is string => Boolean(token?.trim()))
    .map(normalise)
    .sort((a, b) => b.length - a.length);
  const own = ours.reduce((rest, token) => rest.split(token).join(' '), text);

  const { letters, bengaliLetters } = countLetters(own);
  const ratio = letters === 0 ? 0 : bengaliLetters / letters;
  if (ratio >= MIN_BENGALI_RATIO) return [];
  return [
    violation(
      SafetyRule.BengaliScript,
      `Bengali is ${percent(ratio)} of ${letters} letters; at least ${percent(MIN_BENGALI_RATIO)} required`,
    ),
  ];
}

/** What a UTF-16 code unit is, for countLetters: looked up once per code unit seen, then read from a table. */
const enum LetterClass {
  Unknown = 0,
  Other,
  Letter,
  BengaliLetter,
}
const BENGALI_BLOCK = /[\u0980-\u09FF]/;
const LETTER = /\p{L}/u;
const MARK = /\p{M}/u;
const letterClasses = new Uint8Array(0x10000);

function classify(character: string): LetterClass {
  // Bengali vowel signs and the virama are marks, but they are part of how Bengali words are spelt.
  if (BENGALI_BLOCK.test(character)) {
    return LETTER.test(character) || MARK.test(character) ? LetterClass.BengaliLetter : LetterClass.Other;
  }
  return LETTER.test(character) ? LetterClass.Letter : LetterClass.Other;
}

/**
 * Letters and Bengali letters (with their marks) in one pass over the text: this runs for every message, and a
 * table lookup per character is several times cheaper than a Unicode-property regular expression.
 */
function countLetters(text: string): { letters: number; bengaliLetters: number } {
  let letters = 0;
  let bengaliLetters = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    let kind: LetterClass;
    const next = text.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      // A surrogate pair is one character outside the BMP (an emoji, or a rare script): classified directly,
      // and counted once, like any other letter.
      kind = classify(String.fromCodePoint(text.codePointAt(i)!));
      i++;
    } else {
      kind = letterClasses[code] || (letterClasses[code] = classify(String.fromCharCode(code)));
    }
    if (kind === LetterClass.Letter) letters++;
    else if (kind === LetterClass.BengaliLetter) {
      letters++;
      bengaliLetters++;
    }
  }
  return { letters, bengaliLetters };
}

function promoViolations(text: string, offer: SafetyPolicy['offer']): SafetyViolation[] {
  const codes = [
    ...matches(text, CODE_LIKE).filter((code) => code.length >= CODE_MIN_LENGTH && code.length <= CODE_MAX_LENGTH),
    ...[...text.matchAll(LABELLED_CODE)].map((match) => match[1]).filter(looksLikeCode),
  ];
  const ours = offer?.promoCode.toUpperCase();
  return unique(codes.filter((code) => code.toUpperCase() !== ours)).map((code) =>
    violation(SafetyRule.ForeignPromoCode, `promo code not offered: ${code}`),
  );
}

/** After a "promo code" label: letters with digits (eid50), or an all-caps word (FREESHIP). */
function looksLikeCode(token: string): boolean {
  return (/[A-Za-z]/.test(token) && /\d/.test(token)) || /^[A-Z]{4,}$/.test(token);
}

function discountViolations(text: string, offer: SafetyPolicy['offer']): SafetyViolation[] {
  const values = [...text.matchAll(PERCENT_AFTER), ...text.matchAll(PERCENT_BEFORE)].map((match) => Number(match[1]));
  return unique(values.filter((value) => value !== offer?.discountPercent)).map((value) =>
    violation(
      SafetyRule.WrongDiscount,
      offer ? `${value}% but the offer is ${offer.discountPercent}%` : `${value}% with no offer`,
    ),
  );
}

function matches(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((match) => match[0].trim());
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function violation(rule: SafetyRule, detail: string): SafetyViolation {
  return { rule, detail };
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** Bengali literals go through NFKC so they match text in either encoding of য় and ড়. */
function bengali(source: string, flags: string): RegExp {
  return new RegExp(source.normalize('NFKC'), flags);
}
