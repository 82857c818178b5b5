import { FAKE_USAGE, FakeOpenAiServer, GOOD_BODY, GOOD_SUBJECT, withSameRealmFetch } from './support/fake-openai.server';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

const RUN = '/internal/ai/smartengage/run-segment';
const ALWAYS_OPEN = { send_window_start: 0, send_window_end: 24 };
// The defaults of OPENAI_PRICE_*_PER_MTOK (gpt-4o-mini): USD per million input, cached input and output tokens.
const PRICE = { input: 0.15, cachedInput: 0.075, output: 0.6 };

/** What one of the fake's completions costs: its uncached prompt tokens, cached prompt tokens and output. */
const PER_DRAFT = {
  input: FAKE_USAGE.promptTokens - FAKE_USAGE.cachedTokens,
  cachedInput: FAKE_USAGE.cachedTokens,
  output: FAKE_USAGE.completionTokens,
};
const PER_DRAFT_USD = (PER_DRAFT.input * PRICE.input + PER_DRAFT.cachedInput * PRICE.cachedInput + PER_DRAFT.output * PRICE.output) / 1e6;

/** Each run's LLM tokens and cost, as the run history, the scheduler status and run control show them. */
describe('LLM tokens and cost per run', () => {
  const fake = new FakeOpenAiServer();
  let t: TestApp;

  beforeAll(async () => {
    await fake.start();
    t = await withSameRealmFetch(() => createTestApp({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl, OPENAI_TIMEOUT_SECONDS: '2' }));
  });
  afterAll(async () => {
    await t?.close();
    await fake.stop();
  });
  beforeEach(async () => {
    fake.reset();
    await resetDatabase(t.dataSource);
  });

  it('sums the drafts of a run: tokens as billed, and their cost at the price table, stored on each message', async () => {
    const run = await t.http().post(RUN).set(auth).send(ALWAYS_OPEN).expect(200);
    const drafts = Number(run.body.sent);
    expect(drafts).toBeGreaterThan(1);
    expect(fake.requests).toHaveLength(drafts);

    const rows: { llm_cost_usd: string }[] = await t.dataSource.query(
      `SELECT llm_cost_usd FROM ai_messages WHERE job_run_id = $1 AND generator = 'openai'`,
      [run.body.job_run_id],
    );
    expect(rows).toHaveLength(drafts);
    for (const row of rows) expect(Number(row.llm_cost_usd)).toBeCloseTo(PER_DRAFT_USD, 10);

    const expected = {
      drafts,
      input_tokens: drafts * PER_DRAFT.input,
      cached_input_tokens: drafts * PER_DRAFT.cachedInput,
      output_tokens: drafts * PER_DRAFT.output,
      cost_usd: Math.round(drafts * PER_DRAFT_USD * 1e6) / 1e6,
    };
    const history = await t.http().get('/internal/jobs/history').set(auth).expect(200);
    expect(history.body.runs.find((r: { id: string }) => r.id === run.body.job_run_id).llm).toEqual(expected);
    const status = await t.http().get('/internal/jobs/status').set(auth).expect(200);
    expect(status.body.jobs[0].last_run).toMatchObject({ id: run.body.job_run_id, llm: expected });
    const control = await t.http().get(`/internal/jobs/runs/${run.body.job_run_id}`).set(auth).expect(200);
    expect(control.body.llm).toEqual(expected);
  });

  it.each([
    ['not JSON', { kind: 'raw', content: 'not json' }, 'llm_malformed_output'],
    // Names neither the service nor the days: refused by the brief check.
    ['off brief', { kind: 'json', subject: GOOD_SUBJECT, body: GOOD_BODY }, 'llm_off_brief'],
  ] as const)('counts completions the templates replaced (%s): they were paid for all the same', async (_case, reply, reason) => {
    fake.always(reply);
    const run = await t.http().post(RUN).set(auth).send(ALWAYS_OPEN).expect(200);
    const sent = Number(run.body.sent);
    expect(sent).toBeGreaterThan(1);

    const rows = await t.dataSource.query(`SELECT generator, fallback_reason, llm_model FROM ai_messages WHERE job_run_id = $1`, [
      run.body.job_run_id,
    ]);
    expect(rows).toHaveLength(sent);
    for (const row of rows) expect(row).toEqual({ generator: 'template', fallback_reason: reason, llm_model: 'gpt-4o-mini' });
    const history = await t.http().get('/internal/jobs/history').set(auth).expect(200);
    expect(history.body.runs.find((r: { id: string }) => r.id === run.body.job_run_id).llm).toMatchObject({
      drafts: sent,
      output_tokens: sent * PER_DRAFT.output,
      cost_usd: Math.round(sent * PER_DRAFT_USD * 1e6) / 1e6,
    });
  });
});
