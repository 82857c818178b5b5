import { JwtService } from '@nestjs/jwt';
import { ParsedMail, simpleParser } from 'mailparser';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { DEMO } from '../src/database/demo-seed';
import { bookingToken } from './support/outbox';
import { auth, createTestApp, JWT_SECRET, PUBLIC_BASE_URL, resetDatabase, TestApp } from './support/test-app';

const ROUTE = '/admin/smartengage/send-single';
const jwt = new JwtService({ secret: JWT_SECRET });

const scenario2 = {
  customer_id: DEMO.customers.vip,
  message_type: 'reminder',
  service_id: DEMO.services.plumbing,
  promo_code: 'VIP20',
  ttl_hours: 72,
};

interface ReceivedMail {
  raw: Buffer;
  envelope: { mailFrom: string | null; rcptTo: string[] };
}

interface SmtpSink {
  url: string;
  inbox: ReceivedMail[];
  close: () => Promise<void>;
}

interface SmtpOptions {
  /** Rejects every recipient with 550. */
  rejectRecipients?: boolean;
  /** Answers the first `count` recipients with this 4xx reply, then accepts. */
  deferFirst?: { count: number; code: number };
}

/** A real SMTP server on a free local port that keeps every message it accepts, or rejects recipients. */
async function startSmtpServer(options: SmtpOptions = {}): Promise<SmtpSink> {
  const inbox: ReceivedMail[] = [];
  let deferred = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      if (options.deferFirst && deferred < options.deferFirst.count) {
        deferred++;
        return callback(Object.assign(new Error('try again later'), { responseCode: options.deferFirst.code }));
      }
      if (!options.rejectRecipients) return callback();
      callback(Object.assign(new Error(`mailbox ${address.address} unavailable`), { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        // Stored before the 250 reply, so the message is here by the time the HTTP call returns.
        inbox.push({
          raw: Buffer.concat(chunks),
          envelope: {
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          },
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, inbox, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The raw header block of a message, before the first blank line. */
const rawHeaders = (raw: Buffer) => raw.toString('utf8').split('\r\n\r\n')[0];

const headerLine = (mail: ParsedMail, key: string) => mail.headerLines.find((line) => line.key === key)?.line;

const optedOutAt = async (t: TestApp, customerId: string) =>
  (await t.dataSource.query('SELECT opted_out_at FROM customers WHERE id = $1', [customerId]))[0].opted_out_at;

describe('email delivery through a real SMTP server', () => {
  let smtp: SmtpSink;
  let t: TestApp;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({ SMTP_URL: smtp.url });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });
  beforeEach(async () => {
    smtp.inbox.length = 0;
    await resetDatabase(t.dataSource);
  });

  const sendScenario2 = () => t.http().post(ROUTE).set(auth).send(scenario2);

  it('scenario 2: delivers one multipart Bengali email to the VIP and records the Message-ID', async () => {
    const res = await sendScenario2().expect(200);
    expect(smtp.inbox).toHaveLength(1);
    const [received] = smtp.inbox;
    expect(received.envelope.rcptTo).toEqual(['navidkamal5688@example.com']);

    const mail = await simpleParser(received.raw);
    expect(mail.subject).toContain('প্লাম্বিং');
    expect(mail.subject).toContain('২০% ছাড়');
    expect(mail.subject).toMatch(/🔧$/);
    expect(rawHeaders(received.raw)).toMatch(/^Subject: =\?UTF-8\?/im);

    expect(mail.text).toBeTruthy();
    expect(mail.html).toBeTruthy();
    expect(mail.text).toContain('২১ দিন');
    expect(mail.text).toContain('প্রোমো কোড: VIP20');
    const bookingUrl = /https:\/\/app\.sheba\.xyz\/book\?\S+/.exec(mail.text!)![0];
    expect(bookingUrl).toContain('&promo=VIP20');
    expect(mail.html).toContain(`href="${bookingUrl.replace(/&/g, '&amp;')}"`);

    expect(mail.messageId).toContain(res.body.message_id);
    const claims = jwt.verify(bookingToken(mail.text!), { audience: 'smartengage-booking' });
    expect(claims).toMatchObject({
      sub: DEMO.customers.vip,
      message_id: res.body.message_id,
      service_id: DEMO.services.plumbing,
      promo_code: 'VIP20',
    });
    expect(claims.exp - claims.iat).toBe(72 * 3600);

    const [row] = await t.dataSource.query('SELECT * FROM ai_messages WHERE id = $1', [res.body.message_id]);
    expect(row).toMatchObject({ delivery_status: 'sent', provider_message_id: mail.messageId });
  });

  /** Sends scenario 2 and returns the path of the List-Unsubscribe URL of the mail it produced. */
  const unsubscribePath = async () => {
    await sendScenario2().expect(200);
    const mail = await simpleParser(smtp.inbox[0].raw);
    const url = /<([^>]+)>/.exec(headerLine(mail, 'list-unsubscribe') ?? '')?.[1];
    expect(url).toMatch(new RegExp(`^${PUBLIC_BASE_URL.replace(/\./g, '\\.')}/unsubscribe/[\\w-]{43}\\.[\\w-]{43}$`));
    expect(headerLine(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    return new URL(url!).pathname;
  };
  const oneClick = (path: string) => t.http().post(path).type('form').send('List-Unsubscribe=One-Click');

  it('opts the customer out on the RFC 8058 one-click POST, but not on GET', async () => {
    const path = await unsubscribePath();

    // Link scanners fetch with GET: that shows a page and must not opt anyone out.
    const page = await t.http().get(path).expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<form method="post"');
    expect(await optedOutAt(t, DEMO.customers.vip)).toBeNull();

    await oneClick(path).expect(200);
    expect(await optedOutAt(t, DEMO.customers.vip)).toBeInstanceOf(Date);

    const again = await sendScenario2().expect(409);
    expect(again.body.code).toBe('CUSTOMER_OPTED_OUT');
    expect(smtp.inbox).toHaveLength(1);
  });

  it('answers 400 INVALID_TOKEN to a tampered unsubscribe link and opts no one out', async () => {
    const path = await unsubscribePath();
    const tampered = path.slice(0, -1) + (path.endsWith('A') ? 'B' : 'A');
    const forged = await oneClick(tampered).expect(400);
    expect(forged.headers['content-type']).toMatch(/^application\/json/);
    expect(forged.body.code).toBe('INVALID_TOKEN');
    expect(await optedOutAt(t, DEMO.customers.vip)).toBeNull();
  });
});

describe('email delivery when the SMTP server rejects the recipient', () => {
  let smtp: SmtpSink;
  let t: TestApp;

  beforeAll(async () => {
    smtp = await startSmtpServer({ rejectRecipients: true });
    t = await createTestApp({ SMTP_URL: smtp.url, DELIVERY_RETRY_BACKOFF_MS: '10' });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });
  beforeEach(() => resetDatabase(t.dataSource));

  it('answers 502, marks the message failed, and does not count it against the frequency cap', async () => {
    const first = await t.http().post(ROUTE).set(auth).send(scenario2).expect(502);
    expect(first.body.code).toBe('DELIVERY_FAILED');
    expect(smtp.inbox).toHaveLength(0);
    const [row] = await t.dataSource.query('SELECT * FROM ai_messages');
    // A 550 is permanent: one attempt, not five.
    expect(row).toMatchObject({ user_id: DEMO.customers.vip, delivery_status: 'failed', provider_message_id: null, attempts: 1 });
    expect(row.last_error).toMatch(/550/);

    // A failed message was never delivered, so a retry is attempted again rather than capped.
    const second = await t.http().post(ROUTE).set(auth).send(scenario2).expect(502);
    expect(second.body.code).toBe('DELIVERY_FAILED');
    const rows = await t.dataSource.query('SELECT delivery_status FROM ai_messages WHERE user_id = $1', [
      DEMO.customers.vip,
    ]);
    expect(rows).toEqual([{ delivery_status: 'failed' }, { delivery_status: 'failed' }]);
    // ...and the daily campaign's segmentation does not treat the customer as recently messaged either.
    const [customer] = await t.dataSource.query('SELECT last_message_at FROM customers WHERE id = $1', [DEMO.customers.vip]);
    expect(customer.last_message_at).toBeNull();
  });
});

describe('email delivery when the SMTP server defers with 421 for a while', () => {
  let smtp: SmtpSink;
  let t: TestApp;

  beforeAll(async () => {
    smtp = await startSmtpServer({ deferFirst: { count: 2, code: 421 } });
    t = await createTestApp({ SMTP_URL: smtp.url, DELIVERY_RETRY_BACKOFF_MS: '10' });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('retries until the server takes the message: sent once, with the attempts and the last 421 recorded', async () => {
    await resetDatabase(t.dataSource);
    const res = await t.http().post(ROUTE).set(auth).send(scenario2).expect(200);

    expect(smtp.inbox).toHaveLength(1);
    expect((await simpleParser(smtp.inbox[0].raw)).messageId).toContain(res.body.message_id);
    const [row] = await t.dataSource.query('SELECT delivery_status, attempts, last_error FROM ai_messages WHERE id = $1', [
      res.body.message_id,
    ]);
    expect(row).toEqual({ delivery_status: 'sent', attempts: 3, last_error: expect.stringMatching(/421/) });
  });
});
