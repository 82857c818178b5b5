import { randomUUID } from 'node:crypto';
import { insertCustomers, messagesPerCustomer } from './support/customers';
import { ScriptedSmtpServer } from './support/scripted-smtp';
import { SmtpSink, startSmtpSink } from './support/smtp-sink';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

const RUN = '/internal/ai/smartengage/run-segment';
const RUNS = '/internal/jobs/runs';
/** 40 inserted customers due, plus the 3 due demo customers. */
const INSERTED = 40;
const ELIGIBLE = INSERTED + 3;
const BODY = { send_window_start: 0, send_window_end: 24, batch_size: 10 };

type Run = {
  unknown: number;
  job_run_id: string;
  status: string;
  reason: string | null;
  finished_at: string | null;
  total_eligible: number;
  processed: number;
  sent: number;
  failed: number;
  skipped: number;
  progress: { waiting: number; active: number; retrying: number; unknown: number };
};

describe('run control: pause, resume, cancel, auto-pause and run-segment wait:false (in-process)', () => {
  let smtp: SmtpSink;
  let t: TestApp;
  /** The sink's recipients before this test. */
  let sinkStart = 0;

  const getRun = async (id: string): Promise<Run> => (await t.http().get(`${RUNS}/${id}`).set(auth).expect(200)).body;
  const waitForRun = async (id: string, what: string, condition: (run: Run) => boolean, timeoutMs = 30_000): Promise<Run> => {
    let last: Run | undefined;
    await waitFor(`run ${id}: ${what}`, async () => condition((last = await getRun(id))), timeoutMs);
    return last!;
  };
  const startInBackground = async (body: object = BODY): Promise<string> => {
    const res = await t.http().post(RUN).set(auth).send({ ...body, wait: false }).expect(202);
    expect(res.body).toEqual({ job_run_id: expect.any(String), status: 'RUNNING', correlation_id: expect.any(String) });
    expect(res.headers.location).toBe(`${RUNS}/${res.body.job_run_id}`);
    return res.body.job_run_id;
  };
  const expectCountsAddUp = (run: Run) => {
    expect(run.sent + run.failed + run.skipped + run.unknown).toBe(run.processed);
    expect(run.processed).toBe(run.total_eligible);
  };
  /** Every eligible customer has exactly one message, and the sink got each sent one exactly once. */
  const expectEveryoneOnce = async () => {
    const perCustomer = await messagesPerCustomer(t.dataSource);
    expect(perCustomer.size).toBe(ELIGIBLE);
    expect([...perCustomer.values()].every((n) => n === 1)).toBe(true);
    const sent: { recipient: string }[] = await t.dataSource.query(
      `SELECT recipient FROM ai_messages WHERE delivery_status = 'sent' ORDER BY recipient`,
    );
    const recipients = smtp.recipients().slice(sinkStart).sort();
    expect(new Set(recipients).size).toBe(recipients.length);
    expect(recipients).toEqual(sent.map((row) => row.recipient));
  };
  const autoPauses = async (): Promise<number> => {
    const { text } = await t.http().get('/metrics').expect(200);
    return Number(/^ai_campaign_auto_pauses_total (\d+)/m.exec(text)?.[1]);
  };

  beforeAll(async () => {
    smtp = await startSmtpSink();
    t = await createTestApp({
      SMTP_URL: smtp.url,
      CAMPAIGN_CONCURRENCY: '2',
      AUTO_PAUSE_WINDOW: '6',
      AUTO_PAUSE_FAILURE_RATIO: '0.5',
      SHUTDOWN_GRACE_SECONDS: '5',
    });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  beforeEach(async () => {
    smtp.rejectRecipients(false);
    smtp.setDelay(0);
    sinkStart = smtp.recipients().length;
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
    await insertCustomers(t.dataSource, { count: INSERTED, daysAgo: 30, tag: `rc${randomUUID().slice(0, 8)}` });
  });
  afterEach(async () => {
    // No run of one test may still send during the next one.
    await waitFor('no run holds the campaign lock', async () => (await t.dataSource.query('SELECT 1 FROM lock_leases')).length === 0);
  });

  it('guards the run routes: 401 without a key, 400 for a bad id, 404 for an unknown one, 409 for the wrong state', async () => {
    const done = await t.http().post(RUN).set(auth).send({ ...BODY, dry_run: true }).expect(200);
    const id: string = done.body.job_run_id;
    const routes = [
      (path: string) => t.http().get(path),
      (path: string) => t.http().post(`${path}/pause`),
      (path: string) => t.http().post(`${path}/resume`),
      (path: string) => t.http().post(`${path}/cancel`),
    ];
    for (const route of routes) {
      await route(`${RUNS}/${id}`).expect(401);
      const bad = await route(`${RUNS}/not-a-run`).set(auth).expect(400);
      expect(bad.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'id', message: 'id must be a UUID' }] });
      const unknown = await route(`${RUNS}/${randomUUID()}`).set(auth).expect(404);
      expect(unknown.body.code).toBe('RUN_NOT_FOUND');
    }
    for (const verb of ['pause', 'resume', 'cancel']) {
      const conflict = await t.http().post(`${RUNS}/${id}/${verb}`).set(auth).expect(409);
      expect(conflict.body.code).toBe('RUN_STATE_CONFLICT');
      expect(conflict.body.message).toContain('is DONE');
    }
    const run = await getRun(id);
    expect(run).toEqual({
      job_run_id: id,
      status: 'DONE',
      reason: null,
      started_at: expect.any(String),
      finished_at: expect.any(String),
      total_eligible: ELIGIBLE,
      processed: ELIGIBLE,
      sent: 0,
      failed: 0,
      skipped: 0,
      unknown: 0,
      progress: { waiting: 0, active: 0, retrying: 0, unknown: 0 },
      // A dry run: nothing was drafted, by the LLM or otherwise.
      llm: null,
    });
  });

  it('wait:false answers 202 with the Location of the run, which goes on to DONE (dry runs too)', async () => {
    const id = await startInBackground();
    const run = await waitForRun(id, 'DONE', (r) => r.status === 'DONE');
    expect(run).toMatchObject({ reason: null, sent: ELIGIBLE, failed: 0, skipped: 0 });
    expectCountsAddUp(run);
    await expectEveryoneOnce();

    const dry = await startInBackground({ ...BODY, dry_run: true });
    expect(await waitForRun(dry, 'DONE', (r) => r.status === 'DONE')).toMatchObject({ total_eligible: 0, processed: 0 });
  });

  it('pauses a running campaign, resumes it to DONE, and sends every eligible customer exactly one email', async () => {
    smtp.setDelay(150);
    const id = await startInBackground();
    const inFlight = (r: Run) => r.progress.active + r.progress.waiting > 0;
    const running = await waitForRun(id, 'some customers sent, more in flight', (r) => r.sent >= 4 && inFlight(r));
    expect(running.status).toBe('RUNNING');

    const paused = await t.http().post(`${RUNS}/${id}/pause`).set(auth).expect(202);
    expect(paused.headers.location).toBe(`${RUNS}/${id}`);
    expect(paused.body).toMatchObject({ job_run_id: id, status: 'PAUSED', reason: 'paused by an operator' });
    const stopped = await waitForRun(id, 'the producer stopped', (r) => r.finished_at !== null);
    expect(stopped).toMatchObject({ status: 'PAUSED', reason: 'paused by an operator' });
    expect(stopped.processed).toBeLessThan(ELIGIBLE);
    expect(stopped.progress).toEqual({ waiting: 0, active: 0, retrying: 0, unknown: 0 });
    const [row] = await t.dataSource.query('SELECT status, error, resume_state FROM job_runs WHERE id = $1', [id]);
    expect(row).toMatchObject({ status: 'PAUSED', error: 'paused by an operator' });
    expect(row.resume_state.campaignDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const acceptedWhilePaused = smtp.accepted();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(smtp.accepted()).toBe(acceptedWhilePaused);

    smtp.setDelay(0);
    const resumed = await t.http().post(`${RUNS}/${id}/resume`).set(auth).expect(202);
    expect(resumed.headers.location).toBe(`${RUNS}/${id}`);
    expect(resumed.body).toMatchObject({ job_run_id: id, status: 'RUNNING', reason: null, finished_at: null });
    const done = await waitForRun(id, 'DONE', (r) => r.status === 'DONE');
    expect(done).toMatchObject({ sent: ELIGIBLE, failed: 0, skipped: 0, reason: null });
    expectCountsAddUp(done);
    await expectEveryoneOnce();
    const days: { campaign_day: string }[] = await t.dataSource.query('SELECT DISTINCT campaign_day::text FROM ai_messages');
    expect(days).toEqual([{ campaign_day: row.resume_state.campaignDay }]);
  });

  it('cancels a paused run for good: CANCELLED, and resume answers 409', async () => {
    smtp.setDelay(150);
    const id = await startInBackground();
    await waitForRun(id, 'some customers sent', (r) => r.sent >= 2);
    await t.http().post(`${RUNS}/${id}/pause`).set(auth).expect(202);
    // A second pause is refused: the run is no longer RUNNING.
    const again = await t.http().post(`${RUNS}/${id}/pause`).set(auth).expect(409);
    expect(again.body.message).toContain('is PAUSED');
    await waitForRun(id, 'the producer stopped', (r) => r.finished_at !== null);

    const cancelled = await t.http().post(`${RUNS}/${id}/cancel`).set(auth).expect(202);
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by an operator' });
    const resume = await t.http().post(`${RUNS}/${id}/resume`).set(auth).expect(409);
    expect(resume.body).toMatchObject({ code: 'RUN_STATE_CONFLICT' });
    expect(resume.body.message).toContain('is CANCELLED');
    const run = await getRun(id);
    expect(run.status).toBe('CANCELLED');
    expect(run.sent + run.failed + run.skipped).toBe(run.processed);
    expect(run.processed).toBeLessThan(ELIGIBLE);
  });

  it('a synchronous run-segment whose run is cancelled answers 200 CANCELLED with the reason', async () => {
    smtp.setDelay(150);
    const answer = t.http().post(RUN).set(auth).send(BODY);
    const response = answer.then((res) => res); // starts the request
    let id = '';
    await waitFor('the run to start', async () => {
      const rows: { id: string }[] = await t.dataSource.query(`SELECT id FROM job_runs WHERE status = 'RUNNING'`);
      id = rows[0]?.id ?? '';
      return id !== '';
    });
    await t.http().post(`${RUNS}/${id}/cancel`).set(auth).expect(202);
    const res = await response;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ job_run_id: id, status: 'CANCELLED', stopped_reason: 'cancelled by an operator' });
    expect(res.body.sent + res.body.failed + res.body.skipped).toBeLessThan(ELIGIBLE);
  });

  it('auto-pauses when the mail server refuses everyone; resumed once it accepts, it sends to the rest, nobody twice', async () => {
    const before = await autoPauses();
    smtp.rejectRecipients(true);
    // Synchronous: the answer is the paused run.
    const res = await t.http().post(RUN).set(auth).send(BODY).expect(200);
    const id: string = res.body.job_run_id;
    expect(res.body.status).toBe('PAUSED');
    expect(res.body.stopped_reason).toMatch(/^auto-paused: [6-9] of the last 6 deliveries failed \(last error: .*550/);
    expect(res.body.sent).toBe(0);

    const paused = await getRun(id);
    expect(paused).toMatchObject({ status: 'PAUSED', reason: res.body.stopped_reason, sent: 0 });
    expect(paused.failed).toBeGreaterThanOrEqual(6);
    expect(paused.finished_at).not.toBeNull();
    const [row] = await t.dataSource.query('SELECT status, error FROM job_runs WHERE id = $1', [id]);
    expect(row).toEqual({ status: 'PAUSED', error: res.body.stopped_reason });
    expect(await autoPauses()).toBe(before + 1);
    const failedRows: { user_id: string }[] = await t.dataSource.query(
      `SELECT user_id FROM ai_messages WHERE delivery_status = 'failed' AND last_error LIKE '%550%'`,
    );
    expect(failedRows).toHaveLength(paused.failed);

    smtp.rejectRecipients(false);
    await t.http().post(`${RUNS}/${id}/resume`).set(auth).expect(202);
    const done = await waitForRun(id, 'DONE', (r) => r.status === 'DONE');
    expectCountsAddUp(done);
    expect(done).toMatchObject({ failed: paused.failed, sent: ELIGIBLE - paused.failed, skipped: 0, reason: null });
    await expectEveryoneOnce();
    // The customers refused with 550 were not sent again: their rows are still the failed ones.
    const stillFailed: { user_id: string }[] = await t.dataSource.query(
      `SELECT user_id FROM ai_messages WHERE delivery_status = 'failed' ORDER BY user_id`,
    );
    expect(stillFailed.map((r) => r.user_id)).toEqual(failedRows.map((r) => r.user_id).sort());
    expect(await autoPauses()).toBe(before + 1);
  });

  it('resume answers 409 CAMPAIGN_ALREADY_RUNNING while another run holds the campaign lock', async () => {
    smtp.setDelay(150);
    const first = await startInBackground();
    await waitForRun(first, 'some customers sent', (r) => r.sent >= 2);
    await t.http().post(`${RUNS}/${first}/pause`).set(auth).expect(202);
    await waitForRun(first, 'the producer stopped', (r) => r.finished_at !== null);

    const second = await startInBackground();
    const refused = await t.http().post(`${RUNS}/${first}/resume`).set(auth).expect(409);
    expect(refused.body.code).toBe('CAMPAIGN_ALREADY_RUNNING');
    await t.http().post(`${RUNS}/${second}/cancel`).set(auth).expect(202);
    await waitForRun(second, 'the producer stopped', (r) => r.finished_at !== null);
    expect((await getRun(first)).status).toBe('PAUSED');
  });
});

describe('a run interrupted by a shutdown (in-process)', () => {
  it('saves where it stopped; resumed on another instance it finishes, nobody twice', async () => {
    const smtp = await startSmtpSink({ delayMs: 150 });
    const env = { SMTP_URL: smtp.url, CAMPAIGN_CONCURRENCY: '2', SHUTDOWN_GRACE_SECONDS: '5' };
    let t = await createTestApp(env);
    try {
      await resetDatabase(t.dataSource);
      await t.dataSource.query('TRUNCATE job_runs');
      await insertCustomers(t.dataSource, { count: INSERTED, daysAgo: 30, tag: `sd${randomUUID().slice(0, 8)}` });
      const res = await t.http().post(RUN).set(auth).send({ ...BODY, wait: false }).expect(202);
      const id: string = res.body.job_run_id;
      await waitFor('some customers sent', async () => smtp.accepted() >= 4);
      await t.close(); // as on SIGTERM

      t = await createTestApp(env);
      const [row] = await t.dataSource.query('SELECT status, processed, resume_state FROM job_runs WHERE id = $1', [id]);
      expect(row.status).toBe('INTERRUPTED');
      expect(row.processed).toBeGreaterThanOrEqual(4);
      expect(row.processed).toBeLessThan(ELIGIBLE);
      expect(row.resume_state).toMatchObject({ campaignDay: expect.any(String) });

      await t.http().post(`${RUNS}/${id}/resume`).set(auth).expect(202);
      let run: Run | undefined;
      await waitFor('the resumed run to finish', async () => {
        run = (await t.http().get(`${RUNS}/${id}`).set(auth).expect(200)).body;
        return run!.status === 'DONE';
      }, 30_000);
      expect(run!.sent + run!.failed + run!.skipped).toBe(run!.processed);
      expect(run!.processed).toBe(ELIGIBLE);
      expect(run!.sent).toBe(ELIGIBLE);
      const perCustomer = await messagesPerCustomer(t.dataSource);
      expect(perCustomer.size).toBe(ELIGIBLE);
      expect([...perCustomer.values()].every((n) => n === 1)).toBe(true);
      const recipients = smtp.recipients();
      expect(new Set(recipients).size).toBe(recipients.length);
      expect(recipients).toHaveLength(ELIGIBLE);
    } finally {
      await t.close();
      await smtp.close();
    }
  });
});

describe('run control in-process: a delivery waiting for its retry when the run is paused', () => {
  const smtp = new ScriptedSmtpServer();
  let t: TestApp;

  beforeAll(async () => {
    await smtp.start();
    // Every customer in flight at once; a retry 30-60 s away, so the pause comes while each one waits for it.
    t = await createTestApp({ SMTP_URL: smtp.url, CAMPAIGN_CONCURRENCY: '50', DELIVERY_RETRY_BACKOFF_MS: '60000' });
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
    await insertCustomers(t.dataSource, { count: 12, daysAgo: 30, tag: `rr${randomUUID().slice(0, 8)}` });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it('is retried after the resume: everyone sent once, none failed', async () => {
    smtp.set({ accept: true, greylist: true });
    const getRun = async (id: string): Promise<Run> => (await t.http().get(`${RUNS}/${id}`).set(auth).expect(200)).body;
    const started = await t.http().post(RUN).set(auth).send({ ...BODY, batch_size: 50, wait: false }).expect(202);
    const id: string = started.body.job_run_id;
    const eligible = (await waitForValue(() => getRun(id), (run) => run.total_eligible > 0)).total_eligible;
    await waitFor('every customer greylisted once', () => smtp.greylisted.size === eligible);
    await waitFor('every message queued for its retry', async () => {
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ai_messages WHERE delivery_status = 'queued' AND attempts = 1`);
      return n === eligible;
    });

    await t.http().post(`${RUNS}/${id}/pause`).set(auth).expect(202);
    const paused = await waitForValue(() => getRun(id), (run) => run.finished_at !== null);
    // Nobody was processed: each message is still queued with its attempt, for the resume.
    expect(paused).toMatchObject({ status: 'PAUSED', processed: 0, failed: 0 });
    const rows: { delivery_status: string; attempts: number }[] = await t.dataSource.query('SELECT delivery_status, attempts FROM ai_messages');
    expect(rows).toHaveLength(eligible);
    expect(rows.every((row) => row.delivery_status === 'queued' && row.attempts === 1)).toBe(true);

    await t.http().post(`${RUNS}/${id}/resume`).set(auth).expect(202);
    const done = await waitForValue(() => getRun(id), (run) => run.status === 'DONE');
    expect(done).toMatchObject({ sent: eligible, failed: 0, skipped: 0, processed: eligible });
    const sent: { attempts: number }[] = await t.dataSource.query(`SELECT attempts FROM ai_messages WHERE delivery_status = 'sent'`);
    expect(sent).toHaveLength(eligible);
    expect(sent.every((row) => row.attempts === 2)).toBe(true);
    expect(smtp.perRecipient().size).toBe(eligible);
    expect(Math.max(...smtp.perRecipient().values())).toBe(1);
  });
});

/** Polls `read` until `condition` holds on what it answers; that answer. */
async function waitForValue<T>(read: () => Promise<T>, condition: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  let last: T | undefined;
  await waitFor('the condition', async () => condition((last = await read())), timeoutMs);
  return last!;
}
