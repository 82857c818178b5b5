import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { insertCustomers } from './support/customers';
import { FakeOpenAiServer, FAKE_USAGE, withSameRealmFetch } from './support/fake-openai.server';
import { runSegment, ServiceProcess, startService } from './support/service-process';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

jest.setTimeout(180_000);

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const GOOD = { kind: 'good' } as const;

/** One sample from a Prometheus text scrape; 0 when the series does not exist yet. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function generators(t: TestApp): Promise<Record<string, number>> {
  const rows: { key: string; n: number }[] = await t.dataSource.query(
    `SELECT generator || ':' || coalesce(fallback_reason, '-') AS key, count(*)::int AS n FROM ai_messages GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((row) => [row.key, row.n]));
}

describe('The LLM budget: OPENAI_RPM shared by every process, paced, and never a reason to open the breaker', () => {
  const fake = new FakeOpenAiServer();
  let t: TestApp;

  beforeAll(async () => {
    await fake.start();
  });
  afterAll(() => fake.stop());

  describe('two processes on one Redis', () => {
    const processes: ServiceProcess[] = [];
    let prefix: string;

    beforeAll(async () => {
      t = await createTestApp();
    });
    beforeEach(async () => {
      prefix = `se-test-${randomUUID().slice(0, 8)}:`;
      fake.reset();
      await resetDatabase(t.dataSource);
      await t.dataSource.query('TRUNCATE job_runs');
    });
    afterEach(async () => {
      await Promise.all(processes.splice(0).map((p) => p.stop()));
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    afterAll(() => t.close());

    it('keep their combined rate within OPENAI_RPM against a server enforcing it, with at most 1% of requests answered 429', async () => {
      const rpm = 240;
      await insertCustomers(t.dataSource, { count: 120, daysAgo: 25, tag: 'budget' });
      fake.enforce({ rpm, latencyMs: 400 });
      const env = {
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: fake.baseUrl,
        OPENAI_RPM: String(rpm),
        OPENAI_DEADLINE_SECONDS: '10',
      };
      const api = await startService({ ...env, APP_ROLE: 'api' });
      processes.push(api);
      const workers = await Promise.all([1, 2].map(() => startService({ ...env, APP_ROLE: 'worker' })));
      processes.push(...workers);

      const res = await runSegment(api, { send_window_start: 0, send_window_end: 24, batch_size: 500 });
      expect(res.status).toBe(200);
      // The three demo customers are due too.
      expect(res.body).toMatchObject({ total_eligible: 123, sent: 123, failed: 0 });

      // Every message is LLM prose: the budget paced the calls instead of sending them into 429s.
      expect(await generators(t)).toEqual({ 'openai:-': 123 });
      const requests = fake.admittedAt.length + fake.rateLimited;
      expect(fake.rateLimited / requests).toBeLessThanOrEqual(0.01);
      // Both workers drafted, and together they stayed within the budget (the first turn starts the clock).
      for (const worker of workers) {
        const text = await (await fetch(`${worker.url}/metrics`)).text();
        expect(sample(text, 'ai_llm_tokens_total{model="gpt-4o-mini",kind="output"}')).toBeGreaterThan(0);
      }
      const spanMs = fake.admittedAt[fake.admittedAt.length - 1] - fake.admittedAt[0];
      const achievedRpm = ((fake.admittedAt.length - 1) * 60_000) / spanMs;
      expect(achievedRpm).toBeLessThanOrEqual(rpm * 1.02);
      expect(achievedRpm).toBeGreaterThan(rpm * 0.8);
    });
  });

  describe('in one process', () => {
    async function boot(env: Record<string, string>): Promise<void> {
      fake.reset();
      t = await withSameRealmFetch(() => createTestApp({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl, FREQUENCY_CAP_MAX_MESSAGES: '100', ...env }));
      await resetDatabase(t.dataSource);
    }
    afterEach(() => t?.close());

    // Jest keeps one metrics registry across the apps of this file: tests compare with a scrape taken after boot.
    const metrics = async () => (await t.http().get('/metrics').expect(200)).text;
    const increase = async (before: string, series: string) => sample(await metrics(), series) - sample(before, series);
    const circuit = async () => (await t.http().get('/health').expect(200)).body.details.llm;

    it('gives the customers the budget cannot serve in time the template at once, with llm_budget', async () => {
      // One turn every 2 s and a 3 s deadline: two of ten customers get a turn, the others are not kept waiting.
      await boot({ OPENAI_RPM: '30', OPENAI_DEADLINE_SECONDS: '3' });
      const ids = await insertCustomers(t.dataSource, { count: 10, daysAgo: 25, tag: 'spent' });
      const before = await metrics();
      const started = Date.now();
      const res = await t.http().post('/admin/smartengage/send-bulk').set(auth).send({ customer_ids: ids, message_type: 'reminder' }).expect(200);
      expect(res.body).toMatchObject({ sent: 10 });
      expect(Date.now() - started).toBeLessThan(6_000);

      expect(await generators(t)).toEqual({ 'openai:-': 2, 'template:llm_budget': 8 });
      expect(fake.requests).toHaveLength(2);
      expect(await increase(before, 'ai_message_template_fallbacks_total{reason="llm_budget"}')).toBe(8);
      expect(await increase(before, 'ai_llm_budget_waits_total')).toBe(1);
    });

    it('retries a 429 burst in its own loop after the pause, and the breaker stays closed', async () => {
      await boot({ OPENAI_RPM: '6000', OPENAI_MAX_RETRIES: '5', OPENAI_BREAKER_FAILURES: '2' });
      const rateLimited = { kind: 'status', status: 429, retryAfterMs: 200 } as const;
      fake.reply(rateLimited, rateLimited, rateLimited, rateLimited, GOOD);
      const before = await metrics();

      const res = await t.http()
        .post('/admin/smartengage/send-single')
        .set(auth)
        .send({ customer_id: '229211b0-9cf4-4e36-b707-d593034bfb0f', message_type: 'reminder', promo_code: null, ttl_hours: 48 })
        .expect(200);
      const [row] = await t.dataSource.query('SELECT generator, fallback_reason FROM ai_messages WHERE id = $1', [res.body.message_id]);
      expect(row).toEqual({ generator: 'openai', fallback_reason: null });
      // Four 429s, each answered by itself (the client's own retries are off), then the draft.
      expect(fake.requests).toHaveLength(5);
      expect(await circuit()).toMatchObject({ circuit: { state: 'closed' } });
      expect(await increase(before, 'ai_llm_rate_limited_total{model="gpt-4o-mini"}')).toBe(4);
    });

    it('does not open the breaker on 429s without a budget either', async () => {
      await boot({ OPENAI_MAX_RETRIES: '0', OPENAI_BREAKER_FAILURES: '2' });
      fake.always({ kind: 'status', status: 429 });
      for (let i = 0; i < 4; i++) {
        await t.http()
          .post('/admin/smartengage/send-single')
          .set(auth)
          .send({ customer_id: '229211b0-9cf4-4e36-b707-d593034bfb0f', message_type: 'reminder', promo_code: null, ttl_hours: 48 })
          .expect(200);
      }
      expect(fake.requests).toHaveLength(4);
      expect(await generators(t)).toEqual({ 'template:llm_rate_limited': 4 });
      expect(await circuit()).toMatchObject({ circuit: { state: 'closed', consecutiveFailures: 0 } });
    });

    it('counts tokens by kind and their cost at the OPENAI_PRICE_* table', async () => {
      await boot({ OPENAI_PRICE_INPUT_PER_MTOK: '0.15', OPENAI_PRICE_CACHED_INPUT_PER_MTOK: '0.075', OPENAI_PRICE_OUTPUT_PER_MTOK: '0.6' });
      const ids = await insertCustomers(t.dataSource, { count: 4, daysAgo: 25, tag: 'cost' });
      const before = await metrics();
      await t.http().post('/admin/smartengage/send-bulk').set(auth).send({ customer_ids: ids, message_type: 'reminder' }).expect(200);

      const { promptTokens, cachedTokens, completionTokens } = FAKE_USAGE;
      const tokens = (kind: string) => increase(before, `ai_llm_tokens_total{model="gpt-4o-mini",kind="${kind}"}`);
      expect(await tokens('input')).toBe(4 * (promptTokens - cachedTokens));
      expect(await tokens('cached_input')).toBe(4 * cachedTokens);
      expect(await tokens('output')).toBe(4 * completionTokens);
      const cost = (4 * ((promptTokens - cachedTokens) * 0.15 + cachedTokens * 0.075 + completionTokens * 0.6)) / 1e6;
      expect(await increase(before, 'ai_llm_cost_usd_total{model="gpt-4o-mini"}')).toBeCloseTo(cost, 12);
      expect(await increase(before, 'ai_llm_request_duration_seconds_count{model="gpt-4o-mini"}')).toBe(4);
    });
  });
});
