// Short lists of clear profanity and slurs. Matching is by whole token or token prefix, never by
// substring, so "class", "cocktail", বালতি (bucket) and বালিশ (pillow) stay clean.

/** Profane only as whole words: "ass" but not "class" or "assess". */
const ENGLISH_WORDS = [
  'ass', 'dick', 'dicks', 'dickhead', 'cock', 'cocks', 'cocksucker', 'twat', 'twats', 'wanker', 'wankers',
  'bollocks', 'bullshit', 'horseshit', 'dumbass', 'jackass', 'fag', 'fags', 'faggot', 'faggots',
  'nigger', 'niggers', 'nigga', 'niggas', 'retard', 'retards', 'retarded',
];

/** Profane with any ending (shitty, bitches); also romanised Bengali. */
const ENGLISH_STEMS = [
  'shit', 'bitch', 'cunt', 'whore', 'slut', 'bastard', 'asshole', 'arsehole', 'piss', 'wank',
  'khanki', 'haramjad', 'haramzad', 'madarchod', 'bokachod', 'bainchod', 'banchod', 'behenchod', 'chutiya',
];

/** Profane anywhere in a word (motherfucker, clusterfuck); no ordinary English word contains it. */
const ENGLISH_INFIXES = ['fuck'];

/** Profane only as whole tokens: বাল but not বালতি, বালিশ, বালি, বালক; গুদ but not গুদাম. */
const BENGALI_WORDS = [
  'বাল', 'বালের', 'বালছাল', 'শালা', 'শালার', 'গুদ', 'গুদে', 'গুদের', 'ধোন', 'ধোনের', 'পোঁদ', 'পোঁদে', 'পোঁদের',
];

/** Profane with any inflection: খানকির, হারামজাদা, কুত্তার (কুকুর, the plain word for dog, is fine). */
const BENGALI_STEMS = [
  'খানকি', 'খানকী', 'হারামজাদ', 'হারামি', 'হারামী', 'হারামখোর', 'কুত্তা', 'কুত্তি', 'মাগি', 'মাগী', 'বেশ্যা',
  'ভোদা', 'পুটকি', 'চুতিয়া', 'চুতমারানি', 'চুৎমারানি', 'বাঞ্চোত', 'লেওড়া', 'ল্যাওড়া', 'মালাউন',
];

/** Profane inside compounds too (মাদারচোদ, বোকাচোদা). */
const BENGALI_INFIXES = ['চোদ', 'চুদ'];

/** Ordinary words containing an infix: চোদ্দ is "fourteen". */
const BENGALI_INFIX_EXCEPTIONS = ['চোদ্দ'];

/** Insults whose words are harmless alone (শুয়োর is just "pig"). */
const BENGALI_PHRASES = ['শুয়োরের বাচ্চা', 'শুয়রের বাচ্চা', 'শুওরের বাচ্চা', 'শূকরের বাচ্চা'];

// য় and ড় have two encodings; compare everything in one normal form.
const normal = (words: string[]) => words.map((word) => word.normalize('NFKC'));
const bengaliWords = new Set(normal(BENGALI_WORDS));
const bengaliInfixExceptions = normal(BENGALI_INFIX_EXCEPTIONS);
const bengaliPhrases = normal(BENGALI_PHRASES);
const englishWords = new Set(ENGLISH_WORDS);

// Each list as one regular expression: every message passes through here, and one alternation is several
// times cheaper than a startsWith per list entry.
const escape = (word: string) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const startsWithAny = (words: string[]) => new RegExp(`^(?:${words.map(escape).join('|')})`);
const containsAny = (words: string[]) => new RegExp(words.map(escape).join('|'));
const englishStem = startsWithAny(ENGLISH_STEMS);
const englishInfix = containsAny(ENGLISH_INFIXES);
const bengaliStem = startsWithAny(normal(BENGALI_STEMS));
const bengaliInfix = containsAny(normal(BENGALI_INFIXES));

/** Bengali letters and marks, without the Bengali digits, ৳ and other signs. */
const BENGALI_TOKEN = /[\u0980-\u09E5\u09F0\u09F1]+/g;

/** The distinct profane words or phrases in the text; empty when clean. */
export function findProfanity(text: string, { normalised = false } = {}): string[] {
  // Zero-width characters would otherwise split a word and hide it. The safety filter passes text it has
  // already normalised the same way.
  const clean = normalised ? text : text.normalize('NFKC').replace(/\p{Cf}/gu, '');
  const found = new Set<string>();

  for (const word of clean.toLowerCase().match(/[a-z]+/g) ?? []) {
    if (isProfaneEnglish(word)) found.add(word);
  }

  const tokens = clean.match(BENGALI_TOKEN) ?? [];
  for (const token of tokens) {
    if (isProfaneBengali(token)) found.add(token);
  }
  const joined = ` ${tokens.join(' ')} `;
  for (const phrase of bengaliPhrases) {
    if (joined.includes(` ${phrase} `)) found.add(phrase);
  }

  return [...found];
}

function isProfaneEnglish(word: string): boolean {
  return englishWords.has(word) || englishStem.test(word) || englishInfix.test(word);
}

function isProfaneBengali(token: string): boolean {
  if (bengaliWords.has(token) || bengaliStem.test(token)) return true;
  if (!bengaliInfix.test(token)) return false;
  const withoutExceptions = bengaliInfixExceptions.reduce((rest, word) => rest.split(word).join(' '), token);
  return bengaliInfix.test(withoutExceptions);
}
