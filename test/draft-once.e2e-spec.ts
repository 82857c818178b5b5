import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { DEMO } from '../src/database/demo-seed';
import { SMS_PROMPT_VERSION } from '../src/messaging/prompts';
import { FakeOpenAiServer, GOOD_BODY, GOOD_SUBJECT, goodSmsLine } from './support/fake-openai.server';
import { ScriptedSmtpServer } from './support/scripted-smtp';
import { ServiceProcess, startService } from './support/service-process';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

jest.setTimeout(120_000);

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A draft is written once: the LLM's prose is stored with the message before the send, so a queue job retried
 * after a transient SMTP failure sends the same prose again and the LLM is asked once.
 */
describe('A message drafted by the LLM is drafted once', () => {
  const fake = new FakeOpenAiServer();
  const smtp = new ScriptedSmtpServer();
  const processes: ServiceProcess[] = [];
  let t: TestApp;
  let prefix: string;

  beforeAll(async () => {
    await Promise.all([fake.start(), smtp.start()]);
    t = await createTestApp();
  });
  beforeEach(async () => {
    prefix = `se-test-${randomUUID().slice(0, 8)}:`;
    fake.reset();
    await resetDatabase(t.dataSource);
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([fake.stop(), smtp.close()]);
  });

  it('sends a queue job retried after a 421 with the stored draft, without a second LLM call', async () => {
    const env = {
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SMTP_URL: smtp.url,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fake.baseUrl,
      DELIVERY_RETRY_BACKOFF_MS: '200',
    };
    const api = await startService({ ...env, APP_ROLE: 'api' });
    const worker = await startService({ ...env, APP_ROLE: 'worker' });
    processes.push(api, worker);
    smtp.set({ reject: 421, message: 'Service not available, try again later' });
    const rejectedBefore = smtp.rejected;
    // The first hand-over is refused; the retry is accepted.
    void waitFor('the first refusal', async () => smtp.rejected > rejectedBefore, 30_000).then(() => smtp.set({ accept: true }));

    const response = await fetch(`${api.url}/admin/smartengage/send-single`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer_id: DEMO.customers.regular, message_type: 'reminder', promo_code: null, ttl_hours: 48 }),
    });
    const body = (await response.json()) as { message_id: string };
    expect(response.status).toBe(200);

    const [row] = await t.dataSource.query(
      `SELECT delivery_status, attempts, generator, subject, message_text, prose_subject, prose_body, llm_model, prompt_version,
              prompt_tokens, cached_tokens, completion_tokens, llm_cost_usd
         FROM ai_messages WHERE id = $1`,
      [body.message_id],
    );
    expect(row).toMatchObject({
      delivery_status: 'sent',
      attempts: 2,
      generator: 'openai',
      prose_subject: GOOD_SUBJECT,
      prose_body: expect.stringContaining(GOOD_BODY),
      llm_model: 'gpt-4o-mini',
      prompt_version: expect.stringMatching(/^[0-9a-f]{12}$/),
      prompt_tokens: 100,
      cached_tokens: 20,
      completion_tokens: 80,
      // At the default gpt-4o-mini prices: 100 × 0.15 + 20 × 0.075 + 80 × 0.60 per million tokens, computed by the worker.
      llm_cost_usd: '0.00006450',
    });
    expect(row.subject).toContain(GOOD_SUBJECT);
    expect(row.message_text).toContain(GOOD_BODY.split('\n')[0]);
    expect(fake.requests).toHaveLength(1);
    expect(smtp.perRecipient().get('kamalnavid50@example.com')).toBe(1);
  });

  it('sends an SMS job retried after a gateway 500 with its stored LLM line, without a second LLM call', async () => {
    const texts: string[] = [];
    const answers = [500];
    const gateway: Server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk) => (raw += chunk));
      req.on('end', () => {
        // Only the POSTs are SMS; a readiness probe may ask too.
        if (req.method !== 'POST') return res.writeHead(200).end();
        texts.push((JSON.parse(raw) as { text: string }).text);
        const status = answers.shift() ?? 200;
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(status === 200 ? { id: `gw-${texts.length}` } : { error: 'busy' }));
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    try {
      const env = {
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        SMTP_URL: smtp.url,
        SMS_GATEWAY_URL: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/sms`,
        SMS_GATEWAY_API_KEY: 'gateway-key',
        SMS_QUIET_HOURS_START: '0',
        SMS_QUIET_HOURS_END: '0',
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: fake.baseUrl,
        DELIVERY_RETRY_BACKOFF_MS: '200',
      };
      const api = await startService({ ...env, APP_ROLE: 'api' });
      const worker = await startService({ ...env, APP_ROLE: 'worker' });
      processes.push(api, worker);

      const response = await fetch(`${api.url}/admin/smartengage/send-single`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ customer_id: DEMO.customers.vip, service_id: DEMO.services.plumbing, message_type: 'reminder', promo_code: 'VIP20', channel: 'sms' }),
      });
      const body = (await response.json()) as { message_id: string };
      expect(response.status).toBe(200);

      const [row] = await t.dataSource.query(
        'SELECT delivery_status, attempts, generator, prose_body, prompt_version, message_text FROM ai_messages WHERE id = $1',
        [body.message_id],
      );
      expect(row).toMatchObject({
        delivery_status: 'sent',
        attempts: 2,
        generator: 'openai',
        prose_body: goodSmsLine('প্লাম্বিং', 21),
        prompt_version: SMS_PROMPT_VERSION,
      });
      expect(texts).toHaveLength(2);
      expect(texts[1]).toBe(texts[0]);
      expect(row.message_text).toBe(texts[1]);
      expect(fake.requests).toHaveLength(1);
    } finally {
      await new Promise((resolve) => gateway.close(resolve));
    }
  });
});
