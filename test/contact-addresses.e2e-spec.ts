import { randomUUID } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import {
  EMAIL_ADDRESS_PATTERN,
  isValidEmailAddress,
  isValidPhoneNumber,
  PHONE_NUMBER_PATTERN,
} from '../src/segmentation/contact-address';
import { createTestApp, resetDatabase, TestApp } from './support/test-app';

const label = (n: number) => 'l'.repeat(n);
/** 64 + 1 + 189 = 254 characters: the longest address there may be. */
const LONGEST = `${label(64)}@${label(63)}.${label(63)}.${label(58)}.io`;

const LIST = 'navidkamal5688@example.com, b@evil.example.com';
const INJECTION = 'navidkamal5688@example.com\r\nBcc: b@evil.example.com';

/** Each input and whether it is exactly one address we send to. */
const EMAILS: [string | null, boolean][] = [
  ['navidkamal5688@example.com', true],
  ["o'brien+bookings@mail.example.co.uk", true],
  ['UPPER.case@EXAMPLE.COM', true],
  ["a!#$%&'*+/=?^_`{|}~-z@example.com", true],
  ['user@xn--80ak6aa92e.com', true],
  ['user@example.xn--p1ai', true],
  ['a@b-c.d-e.io', true],
  [LONGEST, true],
  [`x${LONGEST}`, false],
  [`${label(65)}@example.com`, false],
  [null, false],
  ['', false],
  [LIST, false],
  [INJECTION, false],
  ['navidkamal5688@example.com;b@evil.example.com', false],
  ['navidkamal5688@example.com,', false],
  ['navidkamal5688@example.com\n', false],
  ['\nnavidkamal5688@example.com', false],
  [' navidkamal5688@example.com', false],
  ['navidkamal5688@example.com ', false],
  ['navid\tkamal@example.com', false],
  ['navidkamal5688@example.com\u2028', false],
  ['"Kamal" <navidkamal5688@example.com>', false],
  ['Kamal <navidkamal5688@example.com>', false],
  ['<navidkamal5688@example.com>', false],
  ['navidkamal5688@example.com (Kamal)', false],
  ['"kamal navid"@example.com', false],
  ['a@b@example.com', false],
  ['a..b@example.com', false],
  ['.a@example.com', false],
  ['a.@example.com', false],
  ['a@example', false],
  ['a@example.com.', false],
  ['a@example..com', false],
  ['a@-example.com', false],
  ['a@example-.com', false],
  ['a@exam_ple.com', false],
  ['a@127.0.0.1', false],
  ['a@[127.0.0.1]', false],
  [`a@${label(64)}.com`, false],
  ['kamal@exämple.com', false],
  ['kämal@example.com', false],
  ['কামাল@example.com', false],
  ['ａ@example.com', false],
  ['a@example.\u212Aom', false],
];

const PHONES: [string | null, boolean][] = [
  ['+8801711000050', true],
  ['+14155552671', true],
  ['+1234567', true],
  ['+123456789012345', true],
  ['+1234567890123456', false],
  ['+123456', false],
  ['8801711000050', false],
  ['01711000050', false],
  ['+08801711000050', false],
  ['+880 1711 000050', false],
  ['+880-1711-000050', false],
  ['+8801711000050\n', false],
  [' +8801711000050', false],
  ['+8801711000050, +8801711000568', false],
  ['+৮৮০১৭১১০০০০৫০', false],
  ['+١٢٣٤٥٦٧٨٩', false],
  ['＋8801711000050', false],
  ['', false],
  [null, false],
];

describe('contact addresses: the TypeScript check and Postgres agree', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });
  // No demo customers: the table holds their addresses, and users.email is unique.
  beforeEach(() => t.dataSource.query('TRUNCATE ai_messages, bookings, customers, users CASCADE'));

  const sql = async (fn: string, value: string | null): Promise<boolean> =>
    (await t.dataSource.query(`SELECT ${fn}($1) AS ok`, [value]))[0].ok;

  it('accepts and refuses the same email addresses, as the table says', async () => {
    const results = [];
    for (const [email, expected] of EMAILS) {
      results.push({ email, expected, ts: isValidEmailAddress(email), sql: await sql('is_valid_email_address', email) });
    }
    expect(results).toEqual(EMAILS.map(([email, expected]) => ({ email, expected, ts: expected, sql: expected })));
  });

  it("reads every accepted address as itself and nothing more with nodemailer's parser", () => {
    const accepted = EMAILS.filter(([, ok]) => ok).map(([email]) => email!);
    expect(accepted.map((email) => addressparser(email, { flatten: true }))).toEqual(accepted.map((address) => [{ address, name: '' }]));
    // ...while the refused lists and injections are what it would have read as other recipients.
    expect(addressparser(LIST, { flatten: true })).toHaveLength(2);
    expect(addressparser(INJECTION, { flatten: true }).map((a) => a.address)).toEqual(['b@evil.example.com']);
  });

  it('accepts and refuses the same phone numbers, as the table says', async () => {
    const results = [];
    for (const [phone, expected] of PHONES) {
      results.push({ phone, expected, ts: isValidPhoneNumber(phone), sql: await sql('is_valid_phone_number', phone) });
    }
    expect(results).toEqual(PHONES.map(([phone, expected]) => ({ phone, expected, ts: expected, sql: expected })));
  });

  it("keeps customers.has_email (segmentation's filter) equal to the TypeScript check, on insert and on update", async () => {
    const emails = EMAILS.map(([email]) => email);
    const ids = emails.map(() => randomUUID());
    await t.dataSource.query(`INSERT INTO users (id, name, email) SELECT id, 'contact test', e FROM unnest($1::uuid[], $2::text[]) AS x(id, e)`, [
      ids,
      emails,
    ]);
    await t.dataSource.query('INSERT INTO customers (id) SELECT unnest($1::uuid[])', [ids]);
    /** Each customer's stored address and has_email, in table order. */
    const flags = async () => {
      const stored: { id: string; email: string | null; has_email: boolean }[] = await t.dataSource.query(
        'SELECT c.id, u.email, c.has_email FROM customers c JOIN users u ON u.id = c.id',
      );
      const byId = new Map(stored.map((row) => [row.id, row]));
      return ids.map((id) => ({ email: byId.get(id)!.email, hasEmail: byId.get(id)!.has_email }));
    };
    const expected = (list: (string | null)[]) => list.map((email) => ({ email, hasEmail: isValidEmailAddress(email) }));
    expect(await flags()).toEqual(expected(emails));

    // Give each customer the next one's address: the update trigger follows the same rule.
    const rotated = [...emails.slice(1), emails[0]];
    await t.dataSource.query('UPDATE users SET email = NULL WHERE id = ANY($1)', [ids]);
    for (const [i, id] of ids.entries()) {
      await t.dataSource.query('UPDATE users SET email = $1 WHERE id = $2', [rotated[i], id]);
    }
    expect(await flags()).toEqual(expected(rotated));
  });

  it('uses the very patterns of the TypeScript check in Postgres', async () => {
    const source = async (name: string): Promise<string> =>
      (await t.dataSource.query('SELECT prosrc FROM pg_proc WHERE proname = $1', [name]))[0].prosrc;
    expect(await source('is_valid_email_address')).toContain(`'${EMAIL_ADDRESS_PATTERN.replace(/'/g, "''")}'`);
    expect(await source('is_valid_phone_number')).toContain(`'${PHONE_NUMBER_PATTERN}'`);
  });
});
