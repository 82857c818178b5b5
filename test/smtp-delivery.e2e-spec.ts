import { JwtService } from '@nestjs/jwt';
import { ParsedMail, simpleParser } from 'mailparser';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { DEMO } from '../src/database/demo-seed';
import { bookingToken } from './support/outbox';
import { unusedPort } from './support/prometheus';
import {
  auth,
  BOOKING_BASE_URL,
  createTestApp,
  JWT_SECRET,
  PUBLIC_BASE_URL,
  resetDatabase,
  TestApp,
} from './support/test-app';

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

/** The first element of the HTML body: the hidden preview text, padding removed. */
function preheaderOf(html: string): { style: string; text: string } {
  const match = /<body[^>]*>\s*<span style="([^"]*)">([^<]*)<\/span>/.exec(html);
  if (!match) throw new Error('the HTML body does not open with a preheader span');
  return { style: match[1], text: match[2].replace(/(&zwnj;|&nbsp;)+$/, '') };
}

/** The "copy this link" line under the button: its visible text and its link. */
function fallbackLineOf(html: string): { text: string; href: string } {
  const match = /<p[^>]*>(বোতামটি কাজ না করলে[^]*?)<\/p>/.exec(html);
  if (!match) throw new Error('no fallback line in the HTML');
  return { text: match[1].replace(/<br>/g, ' ').replace(/<[^>]+>/g, ''), href: /href="([^"]*)"/.exec(match[1])![1] };
}

const unescapeHtml = (value: string) => value.replace(/&amp;/g, '&');

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

  it('opens the HTML with a hidden Bengali preheader and keeps the fallback line short, without the token', async () => {
    const res = await sendScenario2().expect(200);
    const mail = await simpleParser(smtp.inbox[0].raw);
    const html = mail.html as string;
    const bookingUrl = /https:\/\/app\.sheba\.xyz\/book\?token=\S+/.exec(mail.text!)![0];

    const preheader = preheaderOf(html);
    expect(preheader.style).toMatch(/display:none;.*max-height:0;.*opacity:0;/);
    expect(preheader.text).toBe('আপনার পরবর্তী প্লাম্বিং বুকিংয়ে ২০% ছাড়, প্রোমো কোড VIP20');

    // Without click tracking there is no short link to the signed one: the line points at the booking page.
    const fallback = fallbackLineOf(html);
    expect(fallback.text.length).toBeLessThan(100);
    expect(fallback.text).toBe(`বোতামটি কাজ না করলে এই লিংকটি ব্রাউজারে খুলুন: ${BOOKING_BASE_URL}`);
    expect(fallback.href).toBe(BOOKING_BASE_URL);

    // The button alone carries the signed link, and the text part keeps it as before.
    const hrefs = [...html.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((match) => unescapeHtml(match[1]));
    expect(hrefs[0]).toBe(bookingUrl);
    expect(html.split(bookingToken(mail.text!))).toHaveLength(2);
    expect(mail.text!.split('\n')).toContain(bookingUrl);
    expect(mail.text).not.toContain(preheader.text);
    const [row] = await t.dataSource.query('SELECT message_text FROM ai_messages WHERE id = $1', [res.body.message_id]);
    expect(mail.text).toBe(row.message_text);
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

describe('email delivery with click tracking, through a real SMTP server', () => {
  let smtp: SmtpSink;
  let t: TestApp;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({ SMTP_URL: smtp.url, EMAIL_CLICK_TRACKING: 'true' });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });
  beforeEach(() => resetDatabase(t.dataSource));

  it('shows the tracked /r/ link as the fallback line, and it redirects to the signed booking link', async () => {
    const res = await t.http().post(ROUTE).set(auth).send(scenario2).expect(200);
    const mail = await simpleParser(smtp.inbox[0].raw);
    const html = mail.html as string;

    const fallback = fallbackLineOf(html);
    expect(fallback.href).toMatch(new RegExp(`^${PUBLIC_BASE_URL.replace(/\./g, '\\.')}/r/[\\w-]{22}$`));
    expect(fallback.text).toBe(`বোতামটি কাজ না করলে এই লিংকটি ব্রাউজারে খুলুন: ${fallback.href}`);
    expect(fallback.text.length).toBeLessThan(100);
    expect(html).not.toContain('token=');
    expect(preheaderOf(html).text).toContain('২০% ছাড়');

    const redirect = await t.http().get(new URL(fallback.href).pathname).redirects(0).expect(302);
    const claims = jwt.verify(bookingToken(redirect.headers.location), { audience: 'smartengage-booking' });
    expect(claims).toMatchObject({ sub: DEMO.customers.vip, message_id: res.body.message_id });
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

describe('engagement links of an email received over SMTP', () => {
  let smtp: SmtpSink;
  let t: TestApp;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({ SMTP_URL: smtp.url, EMAIL_CLICK_TRACKING: 'true', EMAIL_OPEN_TRACKING: 'true' });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });
  beforeEach(async () => {
    smtp.inbox.length = 0;
    await resetDatabase(t.dataSource);
  });

  const trackedPath = (kind: 'r' | 'o', body: string) => {
    const match = new RegExp(`${PUBLIC_BASE_URL.replace(/\./g, '\\.')}(/${kind}/[\\w-]+(?:\\.gif)?)`).exec(body);
    if (!match) throw new Error(`no /${kind}/ link in the message`);
    return match[1];
  };
  const eventTypes = async (messageId: string) =>
    (await t.dataSource.query('SELECT event_type FROM message_events WHERE message_id = $1 ORDER BY created_at', [messageId])).map(
      (row: { event_type: string }) => row.event_type,
    );

  /** Sends scenario 2 and reads, from what the SMTP server received, what a reader of the mail can see. */
  async function receive() {
    const res = await t.http().post(ROUTE).set(auth).send(scenario2).expect(200);
    const mail = await simpleParser(smtp.inbox[0].raw);
    const headerId = /^<([0-9a-f-]{36})@/.exec(mail.messageId ?? '')?.[1];
    expect(headerId).toBe(res.body.message_id);
    return {
      messageId: res.body.message_id as string,
      headerId: headerId!,
      clickPath: trackedPath('r', mail.text!),
      openPath: trackedPath('o', String(mail.html)),
      unsubscribePath: new URL(/<([^>]+)>/.exec(headerLine(mail, 'list-unsubscribe') ?? '')![1]).pathname,
    };
  }

  it('gives no working link to someone who only sees the Message-ID header', async () => {
    const mail = await receive();
    // What the header's id spelled as a link code used to be: the id's 16 bytes in base64url.
    const fromHeader = Buffer.from(mail.headerId.replace(/-/g, ''), 'hex').toString('base64url');
    expect(mail.clickPath).toMatch(/^\/r\/[\w-]{22}$/);
    expect(mail.openPath).toMatch(/^\/o\/[\w-]{22}\.gif$/);
    expect([mail.clickPath, mail.openPath].join(' ')).not.toContain(fromHeader);

    const res = await t.http().get(`/r/${fromHeader}`).redirects(0).expect(404);
    expect(res.body.code).toBe('MESSAGE_NOT_FOUND');
    await t.http().get(`/o/${fromHeader}.gif`).expect(200).expect('Content-Type', 'image/gif');
    // The pixel's code, which image proxies fetch and log, is not a click link either.
    await t.http().get(`/r/${mail.openPath.slice(3, -4)}`).redirects(0).expect(404);
    expect(await eventTypes(mail.messageId)).toEqual([]);

    // The links in the body work.
    await t.http().get(mail.openPath).expect(200);
    const click = await t.http().get(mail.clickPath).redirects(0).expect(302);
    expect(new URL(click.headers.location).searchParams.get('token')).toBeTruthy();
    expect(await eventTypes(mail.messageId)).toEqual(['message_opened', 'message_clicked']);
  });

  it('gives whoever follows the click link a token that records engagement but cannot opt out or book', async () => {
    const mail = await receive();
    const click = await t.http().get(mail.clickPath).redirects(0).expect(302);
    const bearer = { Authorization: `Bearer ${new URL(click.headers.location).searchParams.get('token')}` };

    for (const eventType of ['unsubscribed', 'booking_completed']) {
      const res = await t.http().post('/events').set(bearer).send({ event_type: eventType, source: 'email' }).expect(403);
      expect(res.body).toMatchObject({ code: 'INSUFFICIENT_SCOPE', message: expect.stringContaining(eventType) });
    }
    expect(await optedOutAt(t, DEMO.customers.vip)).toBeNull();
    const [row] = await t.dataSource.query('SELECT delivery_status FROM ai_messages WHERE id = $1', [mail.messageId]);
    expect(row.delivery_status).toBe('clicked');

    // What the booking page does with it still works.
    // (message_clicked too, but the redirect already stored this minute's click; see the events spec for repeats.)
    for (const eventType of ['message_opened', 'booking_started']) {
      await t.http().post('/events').set(bearer).send({ event_type: eventType, source: 'email' }).expect(201);
    }
    expect(await eventTypes(mail.messageId)).toEqual(['message_clicked', 'message_opened', 'booking_started']);

    // Opting out is the unsubscribe link's job.
    await t.http().post(mail.unsubscribePath).type('form').send('List-Unsubscribe=One-Click').expect(200);
    expect(await optedOutAt(t, DEMO.customers.vip)).toBeInstanceOf(Date);
  });
});

describe('recipients that are not exactly one email address', () => {
  let smtp: SmtpSink;
  let t: TestApp;
  const VIP = 'navidkamal5688@example.com';
  const STRANGER = 'b@evil.example.com';
  const ADDRESSES = {
    'a list': `${VIP}, ${STRANGER}`,
    'a header injection': `${VIP}\r\nBcc: ${STRANGER}`,
  };

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

  const setEmail = (customerId: string, email: string) =>
    t.dataSource.query('UPDATE users SET email = $1 WHERE id = $2', [email, customerId]);
  const messageRows = () => t.dataSource.query('SELECT user_id, recipient, delivery_status FROM ai_messages ORDER BY created_at');
  async function skippedMetric(reason: string): Promise<number> {
    const { text } = await t.http().get('/metrics').expect(200);
    const match = new RegExp(`^ai_messages_skipped_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  }

  it.each(Object.entries(ADDRESSES))(
    'send-single to %s: 409 INVALID_EMAIL_ADDRESS, nothing reaches anyone, no message row',
    async (_kind, address) => {
      await setEmail(DEMO.customers.vip, address);
      const before = await skippedMetric('invalid_email_address');
      const res = await t.http().post(ROUTE).set(auth).send(scenario2).expect(409);
      expect(res.body).toMatchObject({ code: 'INVALID_EMAIL_ADDRESS', message: expect.stringContaining(DEMO.customers.vip) });
      expect(JSON.stringify(res.body)).not.toContain(STRANGER);
      expect(smtp.inbox).toEqual([]);
      expect(await messageRows()).toEqual([]);
      expect(await skippedMetric('invalid_email_address')).toBe(before + 1);
    },
  );

  it('send-bulk and the daily campaign skip them as invalid_email_address and message only the valid address', async () => {
    await setEmail(DEMO.customers.regular, ADDRESSES['a list']);
    await setEmail(DEMO.customers.newcomer, ADDRESSES['a header injection']);

    // Segmentation agrees: the campaign does not even consider them.
    const preview = await t
      .http()
      .post('/internal/ai/smartengage/run-segment')
      .set(auth)
      .send({ dry_run: true, send_window_start: 0, send_window_end: 24 })
      .expect(200);
    expect(preview.body.results.map((r: { customer_id: string }) => r.customer_id)).toEqual([DEMO.customers.vip]);

    const before = await skippedMetric('invalid_email_address');
    const ids = [DEMO.customers.regular, DEMO.customers.vip, DEMO.customers.newcomer];
    const bulk = await t
      .http()
      .post('/admin/smartengage/send-bulk')
      .set(auth)
      .send({ customer_ids: ids, message_type: 'reminder' })
      .expect(200);
    expect(bulk.body).toMatchObject({ status: 'completed', sent: 1, failed: 0, skipped: 2 });
    expect(bulk.body.results).toEqual([
      { customer_id: DEMO.customers.regular, success: false, reason: 'invalid_email_address' },
      { customer_id: DEMO.customers.vip, success: true, message_id: expect.any(String) },
      { customer_id: DEMO.customers.newcomer, success: false, reason: 'invalid_email_address' },
    ]);
    expect(await skippedMetric('invalid_email_address')).toBe(before + 2);
    expect(smtp.inbox.map((mail) => mail.envelope.rcptTo)).toEqual([[VIP]]);
    expect(smtp.inbox.map((mail) => mail.raw.toString()).join('')).not.toContain(STRANGER);
    expect(await messageRows()).toEqual([{ user_id: DEMO.customers.vip, recipient: VIP, delivery_status: 'sent' }]);
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

describe('email delivery when nothing listens at SMTP_URL', () => {
  let t: TestApp;

  beforeAll(async () => {
    // One pool slot, several attempts per message: every refused connection must give its slot back.
    t = await createTestApp({
      SMTP_URL: `smtp://127.0.0.1:${await unusedPort()}`,
      SMTP_MAX_CONNECTIONS: '1',
      DELIVERY_MAX_ATTEMPTS: '3',
      DELIVERY_RETRY_BACKOFF_MS: '1',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('fails each send after its attempts, however many refused connections came before', async () => {
    for (let send = 0; send < 3; send++) {
      await resetDatabase(t.dataSource);
      const res = await t.http().post(ROUTE).set(auth).send(scenario2).expect(502);
      expect(res.body.code).toBe('DELIVERY_FAILED');
      const [row] = await t.dataSource.query('SELECT delivery_status, attempts, last_error FROM ai_messages');
      expect(row).toEqual({ delivery_status: 'failed', attempts: 3, last_error: expect.stringMatching(/ECONNREFUSED/) });
    }
  }, 20_000);
});
