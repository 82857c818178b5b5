import { brotliCompressSync, gzipSync } from 'node:zlib';

/** A small seeded generator (mulberry32): the same seed gives the same requests, run after run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface FuzzBody {
  label: string;
  headers: Record<string, string>;
  data: string | Buffer;
}

const json = (label: string, data: string | Buffer, extra: Record<string, string> = {}): FuzzBody => ({
  label,
  headers: { 'Content-Type': 'application/json', ...extra },
  data,
});

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Bodies that are wrong whatever the route expects: syntax, shape, size, encoding and type. Built once. */
export const MALFORMED_BODIES: readonly FuzzBody[] = [
  json('empty', ''),
  json('truncated', '{"a":'),
  json('bare word', 'nul'),
  json('trailing comma', '{"a":1,}'),
  json('NUL byte', '{"a":"\u0000"}'),
  json('lone surrogate', '{"a":"\\ud800"}'),
  json('top-level array', '[1,2,3]'),
  json('top-level string', '"text"'),
  json('objects 5,000 deep', nested(5_000)),
  json('arrays 20,000 deep', `${'['.repeat(20_000)}${']'.repeat(20_000)}`),
  json('__proto__', '{"__proto__":{"admin":true}}'),
  json('constructor', '{"constructor":{"prototype":{"admin":true}}}'),
  json('huge string', JSON.stringify({ a: 'x'.repeat(90_000) })),
  json('over the size limit', JSON.stringify({ a: 'x'.repeat(300_000) })),
  json('gzip that is not gzip', '{"a":1}', { 'Content-Encoding': 'gzip' }),
  json('deflate that is not deflate', '{"a":1}', { 'Content-Encoding': 'deflate' }),
  json('br that is not br', '{"a":1}', { 'Content-Encoding': 'br' }),
  json('gzip of broken JSON', gzipSync('{"a":'), { 'Content-Encoding': 'gzip' }),
  json('br of deep JSON', brotliCompressSync(nested(5_000)), { 'Content-Encoding': 'br' }),
  json('gzip bomb', gzipSync(Buffer.alloc(5_000_000, 0x20)), { 'Content-Encoding': 'gzip' }),
  json('unknown encoding', '{"a":1}', { 'Content-Encoding': 'compress' }),
  json('double encoding', gzipSync('{"a":1}'), { 'Content-Encoding': 'gzip, gzip' }),
  json('latin1 charset', '{"a":"\xe9"}', { 'Content-Type': 'application/json; charset=latin1' }),
  json('unknown charset', '{"a":1}', { 'Content-Type': 'application/json; charset=klingon' }),
  json('utf-16 body', Buffer.from('{"a":1}', 'utf16le'), { 'Content-Type': 'application/json; charset=utf-16' }),
  { label: 'text/plain', headers: { 'Content-Type': 'text/plain' }, data: 'hello' },
  { label: 'form, deeply nested', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, data: `a${'[b]'.repeat(500)}=1&__proto__[x]=1` },
  { label: 'form, NUL', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, data: 'a=%00&b=%FF' },
  { label: 'multipart garbage', headers: { 'Content-Type': 'multipart/form-data; boundary=x' }, data: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--' },
  { label: 'xml', headers: { 'Content-Type': 'application/xml' }, data: '<a>1</a>' },
  { label: 'no content type', headers: {}, data: Buffer.from([0xff, 0xfe, 0x00, 0x01]) },
];

/** Always tried: the values that broke something once, or would if a check were missing. */
const DANGEROUS_VALUES: unknown[] = [null, 'a\u0000b', 'x'.repeat(10_000), JSON.parse(nested(100)), ['a', 'a'], { $ne: null }];

/** Values of the wrong type or shape for one field: the dangerous ones and `count` more picked by `random`. */
export function wrongValues(random: () => number, count: number): unknown[] {
  const more: unknown[] = [
    true,
    0,
    -1,
    1.5,
    1e308,
    '',
    ' ',
    '\u0000',
    '\ud800',
    '💥'.repeat(100),
    "' OR 1=1 --",
    '../../etc/passwd',
    [],
    [null],
    {},
    '2025-02-30T25:61:00Z',
    '99999-01-01T00:00:00Z',
    '-000001-01-01T00:00:00Z',
    '00000000-0000-0000-0000-000000000000',
    'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
    Array.from({ length: 1 + Math.floor(random() * 40) }, () => String.fromCharCode(1 + Math.floor(random() * 0x2fff))).join(''),
    Math.floor(random() * 2 ** 53) * (random() < 0.5 ? -1 : 1),
  ];
  return [...DANGEROUS_VALUES, ...pick(more, count, random)];
}

function pick<T>(items: T[], count: number, random: () => number): T[] {
  const pool = [...items];
  return Array.from({ length: Math.min(count, pool.length) }, () => pool.splice(Math.floor(random() * pool.length), 1)[0]);
}

/** Path parameter values, already percent-encoded where needed. */
export function malformedPathValues(random: () => number): string[] {
  const randomBytes = Array.from({ length: 16 }, () => `%${Math.floor(random() * 256).toString(16).padStart(2, '0')}`).join('');
  return ['%00', '%FF', '%E0%A4%A', '%', '..%2F..%2Fetc', '__proto__', 'constructor', '%20', 'A'.repeat(4_000), "'%20OR%201=1", '%F0%9F%92%A5', randomBytes];
}

/** Query strings that are wrong for any route. */
export function malformedQueries(names: string[], random: () => number): string[] {
  const values = ['', 'a%00b', '%FF', 'x'.repeat(5_000), '-1', '1e309', 'NaN', String(Math.floor(random() * 1e12))];
  const perName = names.flatMap((name) => [
    ...values.map((value) => `${name}=${value}`),
    `${name}=1&${name}=2`,
    `${name}[a]=1`,
    `${name}[]=1`,
  ]);
  return [...perName, '__proto__[x]=1', 'constructor[prototype][x]=1', `a${'[b]'.repeat(200)}=1`, '%=%'];
}
