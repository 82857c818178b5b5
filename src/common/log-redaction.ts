/** Field names whose values never reach a log line, wherever a caller puts them. */
export const REDACTED_FIELDS = [
  'authorization',
  'cookie',
  'password',
  'token',
  'apiKey',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.token',
  '*.apiKey',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

const REDACTED = '[redacted]';

const SECRET_PATTERNS: [RegExp, string][] = [
  // postgres://user:password@host, smtp://user:password@host: the whole user part goes.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, `$1${REDACTED}@`],
  // Booking tokens in ?token=, keys in ?api_key=.
  [/([?&](?:token|access_token|api_key|apikey|key)=)[^&#\s"']+/gi, `$1${REDACTED}`],
  // The unsubscribe token, the click code (/r/: records a click, mints a booking token) and the open code (/o/)
  // are a path segment; route patterns such as /r/:code stay.
  [/(\/(?:unsubscribe|r|o)\/)(?!:)[^/?#\s"',]+/g, `$1${REDACTED}`],
  [/\b(Bearer\s+)[\w.~+/-]+=*/gi, `$1${REDACTED}`],
];

/** Text with URL credentials, URL tokens and bearer keys replaced; used on messages, URLs and error stacks. */
export function scrubSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((result, [pattern, replacement]) => result.replace(pattern, replacement), text);
}
