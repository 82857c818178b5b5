import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO } from '../src/database/demo-seed';
import { FakeOpenAiServer, withSameRealmFetch } from './support/fake-openai.server';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

const ROUTE = '/admin/smartengage/send-single';
const DEADLINE_S = 2;
const FAILURES = 3;
const COOLDOWN_S = 2;
const GOOD = { kind: 'good' } as const;

const toRegular = {
  customer_id: DEMO.customers.regular,
  message_type: 'reminder',
  service_id: DEMO.services.homeCleaning,
  promo_code: null,
  ttl_hours: 48,
};

/** One sample from a Prometheus text scrape; 0 when the series does not exist yet. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
const fallbacks = (text: string, reason: string) => sample(text, `ai_message_template_fallbacks_total{reason="${reason}"}`);

describe('A hung or failing LLM does not hold sends (deadline and circuit breaker)', () => {
  const fake = new FakeOpenAiServer();
  let t: TestApp;

  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(async () => {
    await t?.close();
  });

  /** The app against the fake, with the client's own defaults (20 s timeout, 2 retries) unless overridden. */
  async function boot(env: Record<string, string> = {}): Promise<TestApp> {
    fake.reset();
    t = await withSameRealmFetch(() => createTestApp({
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: fake.baseUrl,
        OPENAI_DEADLINE_SECONDS: String(DEADLINE_S),
        OPENAI_BREAKER_FAILURES: String(FAILURES),
        OPENAI_BREAKER_COOLDOWN_SECONDS: String(COOLDOWN_S),
        FREQUENCY_CAP_MAX_MESSAGES: '100',
        ...env,
      }));
    await resetDatabase(t.dataSource);
    return t;
  }

  async function send(): Promise<{ generator: string; fallback_reason: string | null; ms: number }> {
    const started = Date.now();
    const res = await t.http().post(ROUTE).set(auth).send(toRegular).expect(200);
    const ms = Date.now() - started;
    const [row] = await t.dataSource.query('SELECT generator, fallback_reason, delivery_status FROM ai_messages WHERE id = $1', [
      res.body.message_id,
    ]);
    expect(row.delivery_status).toBe('sent');
    return { generator: row.generator, fallback_reason: row.fallback_reason, ms };
  }

  const metrics = async () => (await t.http().get('/metrics').expect(200)).text;
  const circuit = async () => (await t.http().get('/health').expect(200)).body.details.llm;

  it('bounds the wait a Retry-After imposes between retries, too', async () => {
    await boot();
    // The client would sleep 5 s before its retry; the deadline does not wait for it.
    fake.always({ kind: 'status', status: 429, retryAfterMs: 5_000 });

    const sent = await send();

    expect(sent).toMatchObject({ generator: 'template', fallback_reason: 'llm_timeout' });
    expect(sent.ms).toBeLessThan((DEADLINE_S + 2) * 1000);
    expect(fake.requests).toHaveLength(1);
  });

  it('answers within the deadline + 2 s with the template when the provider accepts and never answers', async () => {
    await boot();
    fake.always({ kind: 'hang' });
    const before = await metrics();

    const sent = await send();

    expect(sent).toMatchObject({ generator: 'template', fallback_reason: 'llm_timeout' });
    expect(sent.ms).toBeGreaterThanOrEqual(DEADLINE_S * 1000 - 100);
    expect(sent.ms).toBeLessThan((DEADLINE_S + 2) * 1000);
    expect(fake.requests).toHaveLength(1);
    expect(fallbacks(await metrics(), 'llm_timeout') - fallbacks(before, 'llm_timeout')).toBe(1);
  });

  it('opens after consecutive failures, skips the LLM while open, and closes after one good trial call', async () => {
    await boot({ OPENAI_MAX_RETRIES: '0' });
    fake.always({ kind: 'fail' });
    const before = await metrics();
    expect(sample(before, 'ai_llm_circuit_state')).toBe(0);

    for (let i = 0; i < FAILURES; i++) expect(await send()).toMatchObject({ generator: 'template', fallback_reason: 'llm_unavailable' });
    expect(fake.requests).toHaveLength(FAILURES);

    // Open: the LLM is not asked, the template goes out at once.
    const skipped = [await send(), await send()];
    for (const sent of skipped) {
      expect(sent).toMatchObject({ generator: 'template', fallback_reason: 'llm_circuit_open' });
      expect(sent.ms).toBeLessThan(1000);
    }
    expect(fake.requests).toHaveLength(FAILURES);
    const open = await metrics();
    expect(sample(open, 'ai_llm_circuit_state')).toBe(1);
    expect(fallbacks(open, 'llm_circuit_open') - fallbacks(before, 'llm_circuit_open')).toBe(2);
    expect(fallbacks(open, 'llm_unavailable') - fallbacks(before, 'llm_unavailable')).toBe(FAILURES);
    // /health stays 200: the templates keep the service working.
    expect(await circuit()).toEqual({
      status: 'up',
      circuit: { state: 'open', consecutiveFailures: FAILURES, retryAt: expect.any(String) },
    });

    // After the cooldown: half-open. The next draft starts the one trial call and, not waiting for it,
    // takes the template; the trial's success closes the circuit.
    fake.always(GOOD);
    await sleep(COOLDOWN_S * 1000 + 100);
    expect(sample(await metrics(), 'ai_llm_circuit_state')).toBe(2);
    expect((await circuit()).circuit.state).toBe('half_open');

    expect(await send()).toMatchObject({ generator: 'template', fallback_reason: 'llm_circuit_open' });
    await waitFor('the circuit to close', async () => (await circuit()).circuit.state === 'closed', 5_000);
    expect(fake.requests).toHaveLength(FAILURES + 1);
    expect(sample(await metrics(), 'ai_llm_circuit_state')).toBe(0);
    expect(await circuit()).toEqual({ status: 'up', circuit: { state: 'closed', consecutiveFailures: 0 } });
    expect(await send()).toMatchObject({ generator: 'openai', fallback_reason: null });
    expect(fake.requests).toHaveLength(FAILURES + 2);
  });

  it('makes exactly one trial call when half-open, holds no send for it, and opens again when it hangs', async () => {
    await boot({ OPENAI_MAX_RETRIES: '0' });
    fake.always({ kind: 'fail' });
    for (let i = 0; i < FAILURES; i++) await send();
    await sleep(COOLDOWN_S * 1000 + 100);
    fake.reset();
    fake.always({ kind: 'hang' });

    const sends = await Promise.all([send(), send(), send()]);

    // The trial hangs until the deadline, but no send waits for it.
    for (const sent of sends) {
      expect(sent).toMatchObject({ generator: 'template', fallback_reason: 'llm_circuit_open' });
      expect(sent.ms).toBeLessThan(DEADLINE_S * 1000);
    }
    expect(fake.requests).toHaveLength(1);
    expect(sample(await metrics(), 'ai_llm_circuit_state')).toBe(2);
    await waitFor('the circuit to open', async () => (await circuit()).circuit.state === 'open', 5_000);
    expect(sample(await metrics(), 'ai_llm_circuit_state')).toBe(1);
    expect(await send()).toMatchObject({ fallback_reason: 'llm_circuit_open' });
    expect(fake.requests).toHaveLength(1);
  });
});
