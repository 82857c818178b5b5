import { SchedulerRegistry } from '@nestjs/schedule';
import { DEMO } from '../src/database/demo-seed';
import { PREPARE_JOB_NAME } from '../src/jobs/prepare.service';
import { FakeOpenAiServer, RecordedRequest, withSameRealmFetch } from './support/fake-openai.server';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

jest.setTimeout(120_000);

const PREPARE = '/internal/ai/smartengage/prepare';
const RUN = '/internal/ai/smartengage/run-segment';
const ALWAYS_OPEN = { send_window_start: 0, send_window_end: 24 };
/** The send window of the config, open all day: the prepare's send day is today, as the run's. */
const OPEN_ALL_DAY = { CAMPAIGN_SEND_WINDOW_START: '0', CAMPAIGN_SEND_WINDOW_END: '24' };
const DEMO_IDS = [DEMO.customers.regular, DEMO.customers.vip, DEMO.customers.newcomer];
/** FAKE_USAGE at gpt-4o-mini's prices: 100 input, 20 cached, 80 output tokens. */
const LIVE_COST = (100 * 0.15 + 20 * 0.075 + 80 * 0.6) / 1e6;

/** The customer a recorded chat request drafted for, by the facts it carried. */
function factsOf(request: RecordedRequest): Record<string, unknown> {
  return JSON.parse(request.body.messages.find((message) => message.role === 'user')!.content) as Record<string, unknown>;
}

async function appWith(fake: FakeOpenAiServer, env: Record<string, string | undefined>): Promise<TestApp> {
  return withSameRealmFetch(() => createTestApp({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl, ...OPEN_ALL_DAY, ...env }));
}

/** Starts a prepare over HTTP and follows its run to its end; the run as GET /internal/jobs/runs/{id} shows it. */
async function prepare(t: TestApp, body: object = {}) {
  const res = await t.http().post(PREPARE).set(auth).send(body).expect(202);
  expect(res.body).toMatchObject({ job_run_id: expect.any(String), status: 'RUNNING' });
  expect(res.headers.location).toBe(`/internal/jobs/runs/${res.body.job_run_id}`);
  let run: Record<string, unknown> = {};
  await waitFor('the prepare to end', async () => {
    run = (await t.http().get(res.headers.location).set(auth).expect(200)).body;
    return run.status !== 'RUNNING';
  });
  return run;
}

/** ai_prepared_drafts_total by outcome, from the app's /metrics. */
async function outcomes(t: TestApp): Promise<Record<string, number>> {
  const text = (await t.http().get('/metrics').expect(200)).text;
  const count = (outcome: string) => {
    const series = `ai_prepared_drafts_total{outcome="${outcome}"}`;
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };
  return { written: count('written'), used: count('used'), stale: count('stale'), refused: count('refused') };
}

async function drafts(t: TestApp) {
  return (await t.dataSource.query('SELECT * FROM prepared_drafts ORDER BY customer_id')) as Record<string, unknown>[];
}

describe('drafts prepared ahead (POST /internal/ai/smartengage/prepare)', () => {
  const fake = new FakeOpenAiServer();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  describe('without an LLM', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(OPEN_ALL_DAY);
    });
    afterAll(() => t.close());

    it('answers 401 without the key', async () => {
      await t.http().post(PREPARE).send({}).expect(401);
    });

    it.each([
      [{ booking_cadence_days: 0 }, 'booking_cadence_days'],
      [{ preset: 'wild' }, 'preset'],
      [{ channel: 'fax' }, 'channel'],
      [{ send_window_start: 3 }, 'send_window_start'],
    ])('answers 400 naming the bad field (%#)', async (body, field) => {
      const res = await t.http().post(PREPARE).set(auth).send(body).expect(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('answers 409 LLM_NOT_CONFIGURED, and starts nothing', async () => {
      await t.dataSource.query('TRUNCATE job_runs');
      const res = await t.http().post(PREPARE).set(auth).send({}).expect(409);
      expect(res.body).toMatchObject({ code: 'LLM_NOT_CONFIGURED' });
      expect(await t.dataSource.query('SELECT * FROM job_runs')).toEqual([]);
    });

    it('schedules no prepare by default', () => {
      expect(t.app.get(SchedulerRegistry).doesExist('cron', PREPARE_JOB_NAME)).toBe(false);
    });
  });

  it('schedules the prepare on CAMPAIGN_PREPARE_CRON when it is set', async () => {
    const far = '0 0 1 1 *'; // never during the spec
    const t = await appWith(fake, { CAMPAIGN_SCHEDULER_ENABLED: 'true', CAMPAIGN_CRON: far, CAMPAIGN_PREPARE_CRON: far });
    try {
      expect(t.app.get(SchedulerRegistry).doesExist('cron', PREPARE_JOB_NAME)).toBe(true);
      const status = await t.http().get('/internal/jobs/status').set(auth).expect(200);
      expect(status.body.jobs[1]).toMatchObject({
        name: PREPARE_JOB_NAME,
        cron: far,
        enabled: true,
        next_run_at: expect.stringMatching(/-01-01T00:00:00\.000Z$/),
        running: false,
        lock: null,
      });
    } finally {
      await t.close();
    }
  });

  describe('live calls', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await appWith(fake, {});
    });
    afterAll(() => t.close());
    beforeEach(async () => {
      fake.reset();
      await resetDatabase(t.dataSource);
      await t.dataSource.query('TRUNCATE job_runs, prepared_drafts');
    });

    it('answers 400 for an SMS prepare, naming channel', async () => {
      const res = await t.http().post(PREPARE).set(auth).send({ channel: 'sms' }).expect(400);
      expect(res.body.errors).toEqual([{ field: 'channel', message: expect.stringContaining('email') }]);
    });

    it('writes a draft per customer the run will reach; the run sends them without an LLM call, but drafts live for a customer who booked since', async () => {
      const before = await outcomes(t);
      const run = await prepare(t, { booking_cadence_days: 21 });
      expect(run).toMatchObject({ status: 'DONE', total_eligible: 3, processed: 3, sent: 3, failed: 0, skipped: 0 });
      expect(fake.requests).toHaveLength(3);
      const stored = await drafts(t);
      expect(stored.map((d) => d.customer_id).sort()).toEqual([...DEMO_IDS].sort());
      for (const draft of stored) {
        expect(draft).toMatchObject({
          channel: 'EMAIL',
          message_type: 'REMINDER',
          facts_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
          model: 'gpt-4o-mini',
          prompt_version: expect.stringMatching(/^[0-9a-f]{12}$/),
          prompt_tokens: 100,
          cached_tokens: 20,
          completion_tokens: 80,
          batch: false,
        });
        expect(Number(draft.cost_usd)).toBeCloseTo(LIVE_COST, 8);
        expect((draft.expires_at as Date).getTime()).toBeGreaterThan(Date.now());
      }
      const history = await t.http().get('/internal/jobs/history?type=smartengage').set(auth).expect(200);
      expect(history.body.runs[0]).toMatchObject({ name: 'smartengage_prepare', status: 'DONE', sent: 3 });

      const prepared = new Map((await drafts(t)).map((draft) => [draft.customer_id as string, draft.prose as string]));
      // The newcomer books again (another service, a second booking: another tone) before the run.
      await t.dataSource.query(
        `INSERT INTO bookings (customer_id, service_id, status, booked_at) VALUES ($1, $2, 'completed', now() - interval '22 days')`,
        [DEMO.customers.newcomer, DEMO.services.homeCleaning],
      );
      fake.reset();
      const sent = await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, ...ALWAYS_OPEN }).expect(200);
      expect(sent.body).toMatchObject({ status: 'DONE', sent: 3, failed: 0 });
      expect(fake.requests).toHaveLength(1);
      expect(factsOf(fake.requests[0])).toMatchObject({ service: 'হোম ক্লিনিং', tone: 'friendly', days_since_last_booking: 22 });
      const messages: { user_id: string; generator: string; prompt_tokens: number; prose_body: string; llm_cost_usd: string }[] =
        await t.dataSource.query('SELECT user_id, generator, prompt_tokens, prose_body, llm_cost_usd FROM ai_messages');
      expect(messages).toHaveLength(3);
      for (const message of messages) {
        expect(message).toMatchObject({ generator: 'openai', prompt_tokens: 100 });
        expect(Number(message.llm_cost_usd)).toBeCloseTo(LIVE_COST, 8);
        // The sending mark stored the prepared prose on the row; the newcomer's was drafted live.
        if (message.user_id !== DEMO.customers.newcomer) expect(message.prose_body).toBe(prepared.get(message.user_id));
      }
      // The sending mark deleted each draft it stored on a message; the newcomer's stale one waits to expire.
      expect((await drafts(t)).map((draft) => draft.customer_id)).toEqual([DEMO.customers.newcomer]);
      const after = await outcomes(t);
      expect({ written: after.written - before.written, used: after.used - before.used, stale: after.stale - before.stale }).toEqual({
        written: 3,
        used: 2,
        stale: 1,
      });
    });

    it('does not draft again a customer whose fresh draft has the same facts', async () => {
      await prepare(t);
      fake.reset();
      const again = await prepare(t);
      expect(again).toMatchObject({ status: 'DONE', sent: 0, skipped: 3 });
      expect(fake.requests).toHaveLength(0);
    });

    it('does not use a draft once it expired', async () => {
      await prepare(t);
      await t.dataSource.query(`UPDATE prepared_drafts SET expires_at = now() - interval '1 second' WHERE customer_id = $1`, [DEMO.customers.vip]);
      fake.reset();
      await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, ...ALWAYS_OPEN }).expect(200);
      expect(fake.requests.map((request) => factsOf(request).customer_name)).toEqual(['navidkamal5688']);
    });

    it('deletes the expired drafts when it prepares, and keeps the fresh ones', async () => {
      await prepare(t);
      await t.dataSource.query(`UPDATE prepared_drafts SET expires_at = now() - interval '1 second' WHERE customer_id = $1`, [DEMO.customers.vip]);
      // Nobody is due at a 30-day cadence: this prepare only cleans up.
      expect(await prepare(t, { booking_cadence_days: 30 })).toMatchObject({ status: 'DONE', total_eligible: 0, sent: 0 });
      expect((await drafts(t)).map((d) => d.customer_id).sort()).toEqual([DEMO.customers.regular, DEMO.customers.newcomer].sort());
    });
  });

  describe('through the Batch API (OPENAI_BATCH=true)', () => {
    const BATCH_ENV = { OPENAI_BATCH: 'true', OPENAI_BATCH_POLL_SECONDS: '0.05' };
    let t: TestApp;
    beforeAll(async () => {
      t = await appWith(fake, BATCH_ENV);
    });
    afterAll(() => t.close());
    beforeEach(async () => {
      fake.reset();
      await resetDatabase(t.dataSource);
      await t.dataSource.query('TRUNCATE job_runs, prepared_drafts');
    });

    it('uploads one JSONL line per customer, polls the batch, stores the drafts at half price, and the run makes no LLM call', async () => {
      const run = await prepare(t);
      expect(run).toMatchObject({ status: 'DONE', sent: 3, failed: 0 });
      expect(fake.requests).toHaveLength(0);
      expect([...fake.files.values()].filter((file) => file.purpose === 'batch')).toHaveLength(1);
      const [batch] = [...fake.batches.values()];
      expect(batch).toMatchObject({ endpoint: '/v1/chat/completions', completionWindow: '24h', status: 'completed' });
      expect(fake.batchLines).toHaveLength(3);
      for (const line of fake.batchLines) {
        expect(line).toMatchObject({ method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini' } });
        expect(DEMO_IDS.some((id) => line.custom_id.startsWith(id))).toBe(true);
      }
      const stored = await drafts(t);
      expect(stored).toHaveLength(3);
      for (const draft of stored) {
        expect(draft).toMatchObject({ batch: true, prompt_tokens: 100, completion_tokens: 80 });
        expect(Number(draft.cost_usd)).toBeCloseTo(LIVE_COST / 2, 8);
      }
      const [row] = await t.dataSource.query('SELECT params FROM job_runs WHERE job_name = $1', [PREPARE_JOB_NAME]);
      expect(row.params.batch_ids).toEqual([batch.id]);

      await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, ...ALWAYS_OPEN }).expect(200);
      expect(fake.requests).toHaveLength(0);
      const sent: { generator: string; llm_cost_usd: string }[] = await t.dataSource.query('SELECT DISTINCT generator, llm_cost_usd FROM ai_messages');
      expect(sent).toHaveLength(1);
      expect(sent[0].generator).toBe('openai');
      // The message keeps what its draft cost: half price through the Batch API.
      expect(Number(sent[0].llm_cost_usd)).toBeCloseTo(LIVE_COST / 2, 8);
    });

    it('collects, after a restart, the batch a stopped prepare submitted, and submits none again', async () => {
      fake.batchesBehave({ pollsInProgress: 1_000_000 });
      const stopped = await appWith(fake, BATCH_ENV);
      const res = await stopped.http().post(PREPARE).set(auth).send({}).expect(202);
      const id = res.body.job_run_id as string;
      const params = async () => ((await t.dataSource.query('SELECT params FROM job_runs WHERE id = $1', [id]))[0]?.params ?? {}) as Record<string, unknown>;
      await waitFor('the batch id on the run', async () => Array.isArray((await params()).batch_ids));
      await stopped.close();
      const [interrupted] = await t.dataSource.query('SELECT status FROM job_runs WHERE id = $1', [id]);
      expect(interrupted.status).toBe('INTERRUPTED');
      expect(await drafts(t)).toEqual([]);

      fake.finishBatches();
      const run = await prepare(t);
      expect(run).toMatchObject({ status: 'DONE', sent: 3, skipped: 3 });
      expect(fake.batches.size).toBe(1);
      expect((await drafts(t)).map((d) => d.customer_id).sort()).toEqual([...DEMO_IDS].sort());
      expect(await params()).toMatchObject({ batch_ids: [[...fake.batches.keys()][0]], collected: true });

      await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, ...ALWAYS_OPEN }).expect(200);
      expect(fake.requests).toHaveLength(0);
    });

    it('drafts at send time a customer whose batch request failed', async () => {
      fake.batchesBehave({ failLine: (customId) => customId.startsWith(DEMO.customers.regular) });
      const run = await prepare(t);
      expect(run).toMatchObject({ status: 'DONE', sent: 2, failed: 1 });
      expect((await drafts(t)).map((d) => d.customer_id)).not.toContain(DEMO.customers.regular);

      await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, ...ALWAYS_OPEN }).expect(200);
      expect(fake.requests.map((request) => factsOf(request).customer_name)).toEqual(['kamalnavid50']);
    });

    it('drafts at send time the customers an expired batch never answered', async () => {
      fake.batchesBehave({ expireAfter: 1 });
      const run = await prepare(t);
      expect(run).toMatchObject({ status: 'DONE', sent: 1, failed: 2 });
      expect([...fake.batches.values()][0].status).toBe('expired');

      await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, ...ALWAYS_OPEN }).expect(200);
      expect(fake.requests).toHaveLength(2);
      const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM ai_messages WHERE generator = 'openai'`);
      expect(count).toBe(3);
    });
  });
});
