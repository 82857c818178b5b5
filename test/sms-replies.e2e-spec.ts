import { readdirSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { DEMO } from '../src/database/demo-seed';
import { dataSourceOptions } from '../src/database/data-source-options';
import { SMS_OPT_OUT_HINT } from '../src/messaging/sms-composer';
import { smsReplySignature } from '../src/smartengage/sms-signature.guard';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { ADMIN_KEY, createTestApp, JWT_SECRET, PUBLIC_BASE_URL, resetDatabase } from './support/test-app';
import { waitFor } from './support/wait';

const INBOUND = '/webhooks/sms/inbound';
const SECRET = 'e2e-sms-inbound-secret-0123456789';
const VIP_PHONE = '+8801711005688';
const admin = { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' };

interface Signing {
  /** Unix seconds; defaults to now. */
  at?: number;
  secret?: string;
  /** Signs this body but sends the request's own. */
  signedBody?: string;
}

/** The headers a gateway adapter sends: the timestamp, and the HMAC over `<timestamp>.<raw body>`. */
function signed(body: string, { at = Math.floor(Date.now() / 1000), secret = SECRET, signedBody = body }: Signing = {}) {
  return {
    'Content-Type': 'application/json',
    'X-SmartEngage-Timestamp': String(at),
    'X-SmartEngage-Signature': smsReplySignature(secret, String(at), signedBody),
  };
}

describe('SMS opt-out by reply: POST /webhooks/sms/inbound on the built service', () => {
  let dataSource: DataSource;
  let service: ServiceProcess;
  let outboxDir: string;

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${service.url}${INBOUND}`, { method: 'POST', headers, body });
  const reply = (fields: Record<string, unknown>) => JSON.stringify({ from: VIP_PHONE, text: 'STOP', ...fields });
  const customer = async (id: string) =>
    (await dataSource.query('SELECT opted_out_at, opt_out_source FROM customers WHERE id = $1', [id]))[0];
  const events = () =>
    dataSource.query('SELECT message_id, customer_id, event_type, source FROM message_events ORDER BY created_at');

  async function sendSms(customerId: string, channel = 'sms'): Promise<string> {
    const res = await fetch(`${service.url}/admin/smartengage/send-single`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ customer_id: customerId, message_type: 'reminder', channel }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { message_id: string }).message_id;
  }

  beforeAll(async () => {
    dataSource = await new DataSource(dataSourceOptions(process.env.DATABASE_URL!, 2)).initialize();
    outboxDir = mkdtempSync(join(tmpdir(), 'smartengage-sms-replies-'));
    service = await startServiceProcess({
      env: {
        NODE_ENV: 'test',
        DATABASE_URL: process.env.DATABASE_URL,
        JWT_SECRET,
        ADMIN_API_KEYS: ADMIN_KEY,
        PUBLIC_BASE_URL,
        OUTBOX_DIR: outboxDir,
        CAMPAIGN_SCHEDULER_ENABLED: 'false',
        SMS_INBOUND_SECRET: SECRET,
        SMS_QUIET_HOURS_START: '0',
        SMS_QUIET_HOURS_END: '0',
        FREQUENCY_CAP_MAX_MESSAGES: '100',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'log',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await dataSource?.destroy();
  });
  beforeEach(() => resetDatabase(dataSource));

  it('401 for a missing, wrong or stale signature, and for a body other than the signed one; nothing changes', async () => {
    await sendSms(DEMO.customers.vip);
    const body = reply({});
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      { 'Content-Type': 'application/json' },
      { ...signed(body), 'X-SmartEngage-Signature': 'sha256=' },
      signed(body, { secret: 'another-secret-0123456789abcdef' }),
      signed(body, { signedBody: reply({ from: '+8801711000050' }) }),
      // A captured request replayed later: its timestamp is too old; a clock far ahead is refused alike.
      signed(body, { at: now - 360 }),
      signed(body, { at: now + 360 }),
    ];
    for (const headers of refused) {
      const res = await post(body, headers);
      expect({ headers, status: res.status }).toEqual({ headers, status: 401 });
      expect(await res.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', message: expect.stringMatching(/X-SmartEngage-/) });
    }
    expect(await customer(DEMO.customers.vip)).toEqual({ opted_out_at: null, opt_out_source: null });
    expect(await events()).toEqual([]);
  });

  it('400 naming the field for a signed body that is not a reply', async () => {
    const cases: [string, string][] = [
      [reply({ from: '01711005688' }), 'from'],
      [JSON.stringify({ from: VIP_PHONE }), 'text'],
      [reply({ received_at: 'yesterday' }), 'received_at'],
      [reply({ surprise: 1 }), 'surprise'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body, signed(body));
      expect(res.status).toBe(400);
      const error = (await res.json()) as { code: string; errors: { field: string }[] };
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.errors.map((e) => e.field)).toContain(field);
    }
  });

  it.each(['STOP', ' stop ', 'Stop.', 'S T O P', 'unsubscribe', 'End', 'বন্ধ', ' বন্ধ। '])(
    '%j opts the customer out: an unsubscribed event from sms_reply on their latest SMS',
    async (text) => {
      await sendSms(DEMO.customers.vip);
      const latest = await sendSms(DEMO.customers.vip);
      await sendSms(DEMO.customers.vip, 'email'); // later, but not an SMS: a reply does not answer it
      const body = reply({ text });
      const res = await post(body, signed(body));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ outcome: 'recorded' });

      expect(await customer(DEMO.customers.vip)).toEqual({ opted_out_at: expect.any(Date), opt_out_source: 'sms_reply' });
      expect(await events()).toEqual([
        { message_id: latest, customer_id: DEMO.customers.vip, event_type: 'unsubscribed', source: 'sms_reply' },
      ]);
      const [{ delivery_status: status }] = await dataSource.query('SELECT delivery_status FROM ai_messages WHERE id = $1', [latest]);
      expect(status).toBe('unsubscribed');
    },
  );

  it('the same reply delivered twice is recorded once: the request replayed, and redelivered with a new signature', async () => {
    const latest = await sendSms(DEMO.customers.vip);
    const body = reply({ received_at: new Date().toISOString(), gateway_message_id: 'gw-1' });
    const headers = signed(body);
    const first = await post(body, headers);
    expect(await first.json()).toEqual({ outcome: 'recorded' });
    // Within the 5 minutes a replayed request passes the signature check; it changes nothing.
    const replayed = await post(body, headers);
    expect(replayed.status).toBe(200);
    expect(await replayed.json()).toEqual({ outcome: 'duplicate' });
    const redelivered = await post(body, signed(body, { at: Math.floor(Date.now() / 1000) - 240 }));
    expect(await redelivered.json()).toEqual({ outcome: 'duplicate' });
    // The customer repeating STOP, without received_at, is the same opt-out.
    const again = reply({ text: 'stop' });
    expect(await (await post(again, signed(again))).json()).toEqual({ outcome: 'duplicate' });

    expect(await events()).toEqual([
      { message_id: latest, customer_id: DEMO.customers.vip, event_type: 'unsubscribed', source: 'sms_reply' },
    ]);
  });

  it('other texts and unknown numbers are acknowledged and dropped, and the log does not have the text', async () => {
    await sendSms(DEMO.customers.vip);
    const text = 'আমি পরের সপ্তাহে বুক করব, ধন্যবাদ';
    const chat = reply({ text, gateway_message_id: 'gw-chat-1' });
    expect(await (await post(chat, signed(chat))).json()).toEqual({ outcome: 'ignored' });
    const stranger = reply({ from: '+8801999999999', gateway_message_id: 'gw-stranger-1' });
    expect(await (await post(stranger, signed(stranger))).json()).toEqual({ outcome: 'ignored' });

    expect(await customer(DEMO.customers.vip)).toEqual({ opted_out_at: null, opt_out_source: null });
    expect(await events()).toEqual([]);
    await waitFor('the log lines of both replies', () =>
      ['gw-chat-1', 'gw-stranger-1'].every((id) => service.stdout().includes(id)),
    );
    const lines = service.stdout().split('\n').filter((line) => line.includes('gw-chat-1') || line.includes('gw-stranger-1'));
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual([
      'SMS reply ignored: not an opt-out keyword',
      'SMS opt-out ignored: the number belongs to no customer',
    ]);
    expect(service.output()).not.toContain(text);
  });

  it('covers every channel, and opts out a customer who never had an SMS of ours', async () => {
    // The newcomer has had no message at all: there is no SMS to put the event on, the opt-out holds anyway.
    const body = reply({ from: '+8801711000568' });
    expect(await (await post(body, signed(body))).json()).toEqual({ outcome: 'recorded' });
    expect(await customer(DEMO.customers.newcomer)).toEqual({ opted_out_at: expect.any(Date), opt_out_source: 'sms_reply' });
    expect(await events()).toEqual([]);

    for (const channel of ['sms', 'email']) {
      const res = await fetch(`${service.url}/admin/smartengage/send-single`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ customer_id: DEMO.customers.newcomer, message_type: 'reminder', channel }),
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { code: string }).code).toBe('CUSTOMER_OPTED_OUT');
    }
  });

  it('every SMS tells how to stop, in Bengali', async () => {
    const messageId = await sendSms(DEMO.customers.vip);
    const file = readdirSync(join(outboxDir, 'sms')).find((name) => name.endsWith(`${messageId}.json`))!;
    const sms = JSON.parse(readFileSync(join(outboxDir, 'sms', file), 'utf8')) as { text: string; segments: number };
    expect(sms.text.endsWith(`\n${SMS_OPT_OUT_HINT}`)).toBe(true);
    expect(sms.segments).toBeLessThanOrEqual(2);
  });
});

describe('POST /webhooks/sms/inbound without SMS_INBOUND_SECRET', () => {
  it('answers 404 as a route that does not exist, even to a signed request', async () => {
    const t = await createTestApp({ SMS_INBOUND_SECRET: undefined });
    try {
      const body = JSON.stringify({ from: VIP_PHONE, text: 'STOP' });
      const res = await t.http().post(INBOUND).set(signed(body)).send(body).expect(404);
      const unknown = await t.http().post('/webhooks/sms/elsewhere').send(body).expect(404);
      expect(res.body).toMatchObject({ code: 'NOT_FOUND', message: `Cannot POST ${INBOUND}` });
      expect(unknown.body).toMatchObject({ code: 'NOT_FOUND', message: 'Cannot POST /webhooks/sms/elsewhere' });
    } finally {
      await t.close();
    }
  });
});
