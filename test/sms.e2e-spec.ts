import { createServer, IncomingMessage, Server } from 'node:http';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO } from '../src/database/demo-seed';
import { localHour } from '../src/common/local-time';
import { SMS_OPT_OUT_HINT } from '../src/messaging/sms-composer';
import { countSmsSegments } from '../src/messaging/sms-segments';
import { StaleMessageSweeper } from '../src/messaging/stale-message.sweeper';
import { PROMPT_VERSION, SMS_PROMPT_VERSION } from '../src/messaging/prompts';
import { FakeOpenAiServer, goodSmsLine, withSameRealmFetch } from './support/fake-openai.server';
import { auth, createTestApp, PUBLIC_BASE_URL, resetDatabase, TestApp } from './support/test-app';

const SINGLE = '/admin/smartengage/send-single';
const NEVER_QUIET = { SMS_QUIET_HOURS_START: '0', SMS_QUIET_HOURS_END: '0' };
const vipSms = {
  customer_id: DEMO.customers.vip,
  message_type: 'reminder',
  service_id: DEMO.services.plumbing,
  promo_code: 'VIP20',
  channel: 'sms',
};

function outboxSms(outboxDir: string, messageId: string): { to: string; text: string; segments: number } {
  const file = readdirSync(join(outboxDir, 'sms')).find((name) => name.endsWith(`${messageId}.json`));
  if (!file) throw new Error(`no outbox SMS for ${messageId}`);
  return JSON.parse(readFileSync(join(outboxDir, 'sms', file), 'utf8'));
}

describe('SMS channel (outbox)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(NEVER_QUIET);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
  });

  it('sends a Bengali SMS within two parts, with the real offer, a short tracking link and how to stop', async () => {
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(200);
    expect(res.body).toMatchObject({ channel: 'SMS', promo_code: 'VIP20' });

    const sms = outboxSms(t.outboxDir, res.body.message_id);
    expect(sms.to).toBe('+8801711005688');
    expect(sms.text).toContain('প্লাম্বিং');
    expect(sms.text).toContain('২০% ছাড়');
    expect(sms.text).toContain('VIP20');
    expect(sms.text).toMatch(new RegExp(`${PUBLIC_BASE_URL}/r/[A-Za-z0-9_-]{22}`));
    expect(sms.text.endsWith(`\n${SMS_OPT_OUT_HINT}`)).toBe(true);
    // The code is not the message id (which the gateway and its logs see) spelled in base64url.
    expect(sms.text).not.toContain(Buffer.from(res.body.message_id.replace(/-/g, ''), 'hex').toString('base64url'));
    const counted = countSmsSegments(sms.text);
    expect(counted.encoding).toBe('UCS-2');
    expect(counted.segments).toBeLessThanOrEqual(2);

    const [row] = await t.dataSource.query('SELECT * FROM ai_messages');
    expect(row).toMatchObject({ channel: 'SMS', recipient: '+8801711005688', delivery_status: 'sent', sms_segments: counted.segments });
    expect(row.message_text).toBe(sms.text);
  });

  it('falls back to a shorter template when the name would push the SMS past the budget', async () => {
    const longName = 'অনেক লম্বা নামের একজন অত্যন্ত সম্মানিত গ্রাহক যার নাম এখানে লেখা';
    await t.dataSource.query('UPDATE users SET name = $1 WHERE id = $2', [longName, DEMO.customers.vip]);
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(200);
    const sms = outboxSms(t.outboxDir, res.body.message_id);
    expect(sms.text).not.toContain('অনেক লম্বা');
    expect(countSmsSegments(sms.text).segments).toBeLessThanOrEqual(2);
  });

  it('answers 409 NO_PHONE_NUMBER for a customer without a phone, and 400 for an unknown channel', async () => {
    await t.dataSource.query('UPDATE users SET phone = NULL WHERE id = $1', [DEMO.customers.vip]);
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(409);
    expect(res.body.code).toBe('NO_PHONE_NUMBER');
    await t.http().post(SINGLE).set(auth).send({ ...vipSms, channel: 'fax' }).expect(400);
  });

  it.each(['+8801711005688, +8801711000050', '+8801711005688\n+8801711000050', '01711005688', '+880 1711 005688', '+08801711005688'])(
    'answers 409 INVALID_PHONE_NUMBER for %j: nothing sent, no message row',
    async (phone) => {
      await t.dataSource.query('UPDATE users SET phone = $1 WHERE id = $2', [phone, DEMO.customers.vip]);
      const outbox = () => (existsSync(join(t.outboxDir, 'sms')) ? readdirSync(join(t.outboxDir, 'sms')) : []);
      const before = outbox();
      const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(409);
      expect(res.body.code).toBe('INVALID_PHONE_NUMBER');
      expect(await t.dataSource.query('SELECT id FROM ai_messages')).toEqual([]);
      expect(outbox()).toEqual(before);
    },
  );

  it('skips an invalid phone number as invalid_phone_number in bulk, and the sms campaign leaves it out', async () => {
    await t.dataSource.query('UPDATE users SET phone = $1 WHERE id = $2', ['+8801711000050, +8801711000568', DEMO.customers.regular]);
    const campaign = await t
      .http()
      .post('/internal/ai/smartengage/run-segment')
      .set(auth)
      .send({ preset: 'sms', send_window_start: 0, send_window_end: 24, dry_run: true, booking_cadence_days: 20 })
      .expect(200);
    expect(campaign.body.results.map((r: { customer_id: string }) => r.customer_id).sort()).toEqual(
      [DEMO.customers.vip, DEMO.customers.newcomer].sort(),
    );
    const bulk = await t
      .http()
      .post('/admin/smartengage/send-bulk')
      .set(auth)
      .send({ customer_ids: [DEMO.customers.regular, DEMO.customers.newcomer], message_type: 'reminder', channel: 'sms' })
      .expect(200);
    expect(bulk.body).toMatchObject({ sent: 1, skipped: 1 });
    expect(bulk.body.results[0]).toEqual({ customer_id: DEMO.customers.regular, success: false, reason: 'invalid_phone_number' });
    const rows = await t.dataSource.query('SELECT user_id FROM ai_messages');
    expect(rows).toEqual([{ user_id: DEMO.customers.newcomer }]);
  });

  it('sends SMS in bulk and from the sms campaign preset', async () => {
    const bulk = await t
      .http()
      .post('/admin/smartengage/send-bulk')
      .set(auth)
      .send({ customer_ids: [DEMO.customers.regular, DEMO.customers.newcomer], message_type: 'reminder', channel: 'sms' })
      .expect(200);
    expect(bulk.body).toMatchObject({ sent: 2 });

    const campaign = await t
      .http()
      .post('/internal/ai/smartengage/run-segment')
      .set(auth)
      .send({ preset: 'sms', send_window_start: 0, send_window_end: 24 })
      .expect(200);
    expect(campaign.body).toMatchObject({ channel: 'SMS', total_eligible: 1, sent: 1 });
    const channels = await t.dataSource.query('SELECT DISTINCT channel FROM ai_messages');
    expect(channels).toEqual([{ channel: 'SMS' }]);
  });
});

describe('SMS quiet hours', () => {
  let t: TestApp;
  const hour = localHour(new Date(), 'Asia/Dhaka');

  beforeAll(async () => {
    // Quiet now, whatever the time of the test run.
    t = await createTestApp({ SMS_QUIET_HOURS_START: String(hour), SMS_QUIET_HOURS_END: String((hour + 1) % 24) });
  });
  afterAll(() => t.close());

  it('sends no SMS during the quiet hours, but email still goes', async () => {
    await resetDatabase(t.dataSource);
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(409);
    expect(res.body.code).toBe('SMS_QUIET_HOURS');
    await t.http().post(SINGLE).set(auth).send({ ...vipSms, channel: 'email' }).expect(200);
  });
});

describe('SMS through an HTTP gateway', () => {
  let t: TestApp;
  let gateway: Server;
  const received: { headers: IncomingMessage['headers']; body: Record<string, string> }[] = [];
  let answers: number[] = [];

  beforeAll(async () => {
    gateway = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk) => (raw += chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(raw) });
        const status = answers.shift() ?? 200;
        res.writeHead(status, { 'Content-Type': 'application/json', ...(status === 429 ? { 'Retry-After': '0' } : {}) });
        res.end(JSON.stringify(status === 200 ? { id: `gw-${received.length}` } : { error: 'busy' }));
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const { port } = gateway.address() as { port: number };
    t = await createTestApp({
      ...NEVER_QUIET,
      SMS_GATEWAY_URL: `http://127.0.0.1:${port}/sms`,
      SMS_GATEWAY_API_KEY: 'gateway-secret-key',
      DELIVERY_MAX_ATTEMPTS: '4',
      DELIVERY_RETRY_BACKOFF_MS: '10',
    });
  });
  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => gateway.close(resolve));
  });

  beforeEach(() => (received.length = 0));

  it('posts JSON with the API key, retries a 429 with the same Idempotency-Key and stores the gateway id', async () => {
    await resetDatabase(t.dataSource);
    answers = [429, 200];
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(200);
    expect(received).toHaveLength(2);
    expect(received[1].headers['x-api-key']).toBe('gateway-secret-key');
    expect(received[1].body).toMatchObject({ to: '+8801711005688', reference: res.body.message_id });
    expect(received.map((request) => request.headers['idempotency-key'])).toEqual([res.body.message_id, res.body.message_id]);
    const [row] = await t.dataSource.query('SELECT provider_message_id, delivery_status, attempts, last_error FROM ai_messages');
    expect(row).toEqual({ provider_message_id: 'gw-2', delivery_status: 'sent', attempts: 2, last_error: expect.stringContaining('429') });
  });

  it('marks the message failed after DELIVERY_MAX_ATTEMPTS when the gateway keeps failing', async () => {
    await resetDatabase(t.dataSource);
    answers = [500, 500, 500, 500];
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(502);
    expect(res.body.code).toBe('DELIVERY_FAILED');
    expect(JSON.stringify(res.body)).not.toContain('gateway-secret-key');
    expect(received).toHaveLength(4);
    const [row] = await t.dataSource.query('SELECT delivery_status, last_error, attempts FROM ai_messages');
    expect(row).toEqual({ delivery_status: 'failed', last_error: expect.stringContaining('500'), attempts: 4 });
  });

  it('fails at once on a 4xx from the gateway', async () => {
    await resetDatabase(t.dataSource);
    answers = [422];
    await t.http().post(SINGLE).set(auth).send(vipSms).expect(502);
    expect(received).toHaveLength(1);
    const [row] = await t.dataSource.query('SELECT delivery_status, attempts FROM ai_messages');
    expect(row).toEqual({ delivery_status: 'failed', attempts: 1 });
  });

  it('sends an SMS its process left sending again, with the same Idempotency-Key, once it is stale', async () => {
    await resetDatabase(t.dataSource);
    answers = [200, 200];
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(200);
    // As if the process died after the hand-over, 11 minutes ago (STALE_CLAIM_MINUTES is 10).
    await t.dataSource.query(
      `UPDATE ai_messages SET delivery_status = 'sending', provider_message_id = NULL, sent_at = NULL,
                              updated_at = now() - interval '11 minutes'`,
    );

    const report = await t.app.get(StaleMessageSweeper).sweep();

    expect(report).toEqual({ released: 0, unknown: 0, resent: { sent: 1 } });
    expect(received).toHaveLength(2);
    expect(received[1].headers['idempotency-key']).toBe(res.body.message_id);
    expect(received[1].body.text).toBe(received[0].body.text);
    const [row] = await t.dataSource.query('SELECT delivery_status, provider_message_id, attempts FROM ai_messages');
    expect(row).toEqual({ delivery_status: 'sent', provider_message_id: 'gw-2', attempts: 2 });
  });
});

describe('LLM-written SMS (the real OpenAI client against the fake)', () => {
  const fake = new FakeOpenAiServer();
  let t: TestApp;

  beforeAll(async () => {
    await fake.start();
    t = await withSameRealmFetch(() => createTestApp({ ...NEVER_QUIET, OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl }));
  });
  afterAll(async () => {
    await t?.close();
    await fake.stop();
  });
  beforeEach(async () => {
    fake.reset();
    await resetDatabase(t.dataSource);
  });

  async function sendSms() {
    const res = await t.http().post(SINGLE).set(auth).send(vipSms).expect(200);
    const [row] = await t.dataSource.query('SELECT * FROM ai_messages WHERE id = $1', [res.body.message_id]);
    return { row, sms: outboxSms(t.outboxDir, res.body.message_id) };
  }

  it("sends the LLM's line within two parts, with the real offer, the /r/ link and how to stop; its prompt version stored", async () => {
    const { row, sms } = await sendSms();

    const line = goodSmsLine('প্লাম্বিং', 21);
    const link = sms.text.match(new RegExp(`${PUBLIC_BASE_URL}/r/[A-Za-z0-9_-]{22}`))?.[0];
    expect(link).toBeDefined();
    expect(sms.text).toBe(`${line} ২০% ছাড়, কোড VIP20: ${link}\n${SMS_OPT_OUT_HINT}`);
    const counted = countSmsSegments(sms.text);
    expect(counted.segments).toBeLessThanOrEqual(2);
    expect(row).toMatchObject({
      generator: 'openai',
      fallback_reason: null,
      prompt_version: SMS_PROMPT_VERSION,
      llm_model: 'gpt-4o-mini',
      prose_body: line,
      sms_segments: counted.segments,
      delivery_status: 'sent',
    });
    expect(SMS_PROMPT_VERSION).not.toBe(PROMPT_VERSION);

    expect(fake.requests).toHaveLength(1);
    const { body } = fake.requests[0];
    expect(body.response_format?.json_schema?.name).toBe('reminder_sms');
    expect(body.prompt_cache_key).toBe(`smartengage-sms-${SMS_PROMPT_VERSION}`);
    const facts = JSON.parse(body.messages[1].content);
    // The room is what two parts leave after the offer, the link and the hint; the LLM sees no name, code or link.
    expect(facts).toEqual({
      service: 'প্লাম্বিং',
      days_since_last_booking: 21,
      tone: 'premium',
      message_type: 'reminder',
      has_offer: true,
      max_characters: 2 * 67 - (sms.text.length - line.length),
    });
    expect(JSON.stringify(body)).not.toMatch(/VIP20|\/r\/|navidkamal/);
  });

  it('falls back to the template, with llm_off_brief, when the LLM line is too long for the parts', async () => {
    fake.reply({ kind: 'sms', line: `২১ দিন আগে প্লাম্বিং নিয়েছিলেন। ${'নিয়মিত যত্নে আপনার ঘর থাকে সুন্দর ও নিরাপদ। '.repeat(2)}` });

    const { row, sms } = await sendSms();

    expect(row).toMatchObject({ generator: 'template', fallback_reason: 'llm_off_brief', delivery_status: 'sent' });
    expect(row.safety_violations).toEqual([{ rule: 'brief_sms_parts', detail: expect.stringMatching(/^takes [3-9] parts, more than 2$/) }]);
    expect(sms.text).not.toContain('নিয়মিত যত্নে');
    expect(sms.text).toContain('VIP20');
    expect(countSmsSegments(sms.text).segments).toBeLessThanOrEqual(2);
  });

  it('falls back to the template when the LLM line invents a discount', async () => {
    fake.reply({ kind: 'sms', line: '২১ দিন পর প্লাম্বিং-এ ৫০% ছাড়!' });

    const { row, sms } = await sendSms();

    expect(row).toMatchObject({ generator: 'template', fallback_reason: 'safety_rejected' });
    expect(sms.text).not.toContain('৫০%');
  });
});
