import { setTimeout as sleep } from 'node:timers/promises';
import { ABANDONED_RUN_ERROR } from '../src/jobs/job-run.repository';
import { insertCustomers, messagesPerCustomer } from './support/customers';
import { PgBouncer, startPgBouncer } from './support/pgbouncer';
import { ServiceProcess, startService } from './support/service-process';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { testDatabaseUrl } from './support/test-config';

// These specs boot the service as child processes: seconds each, far more on a loaded machine.
jest.setTimeout(90_000);

const RUN = '/internal/ai/smartengage/run-segment';
const LEASE_TTL_SECONDS = 3;

describe.each(['direct', 'through PgBouncer'])('a campaign run killed halfway (%s)', (route) => {
  let bouncer: PgBouncer | undefined;
  let t: TestApp;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    if (route !== 'direct') bouncer = await startPgBouncer();
    // A long lease here: this app's sweep of dead runs (once per lease TTL) stays out of the spec, so the next run closes it.
    t = await createTestApp({
      CAMPAIGN_SCHEDULER_ENABLED: 'false',
      DATABASE_URL: bouncer?.url ?? testDatabaseUrl(),
      LOCK_LEASE_TTL_SECONDS: '600',
    });
  });
  afterAll(async () => {
    service?.child.kill('SIGKILL');
    await t.close();
    await bouncer?.stop();
  });

  it('frees its lock within the lease TTL and resumes when started again: nobody gets two messages', async () => {
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
    await insertCustomers(t.dataSource, { count: 400, daysAgo: 25, tag: 'killed' });
    const eligible = 403;

    service = await startService({
      DATABASE_URL: bouncer?.url ?? testDatabaseUrl(),
      CAMPAIGN_CONCURRENCY: '2',
      LOCK_LEASE_TTL_SECONDS: String(LEASE_TTL_SECONDS),
    });
    void fetch(`${service.url}${RUN}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ send_window_start: 0, send_window_end: 24, batch_size: 20 }),
    }).catch(() => undefined);

    let claimed = 0;
    for (let i = 0; i < 500 && claimed < 60; i++) {
      await sleep(20);
      claimed = Number((await t.dataSource.query('SELECT count(*) FROM ai_messages'))[0].count);
    }
    const killedAt = Date.now();
    service.child.kill('SIGKILL');
    await service.exited;
    expect(claimed).toBeGreaterThanOrEqual(60);
    const beforeRestart = await messagesPerCustomer(t.dataSource);
    expect(beforeRestart.size).toBeLessThan(eligible);

    // Any reader shows the dead run as FAILED once its lease has expired (without writing): here the history.
    const killedRun = async () => (await t.http().get('/internal/jobs/history').set(auth).expect(200)).body.runs[0];
    let run = await killedRun();
    while (run.status === 'RUNNING' && Date.now() - killedAt < (LEASE_TTL_SECONDS + 5) * 1000) {
      await sleep(100);
      run = await killedRun();
    }
    expect(run).toMatchObject({ status: 'FAILED', error: ABANDONED_RUN_ERROR, processed: expect.any(Number) });
    expect(Date.now() - killedAt).toBeLessThanOrEqual((LEASE_TTL_SECONDS + 2) * 1000);
    const status = (await t.http().get('/internal/jobs/status').set(auth).expect(200)).body.jobs[0];
    expect(status).toMatchObject({ running: false, lock: null, current_run: null });
    expect(status.last_run).toMatchObject({ id: run.id, status: 'FAILED', error: ABANDONED_RUN_ERROR });
    const control = (await t.http().get(`/internal/jobs/runs/${run.id}`).set(auth).expect(200)).body;
    expect(control).toMatchObject({ status: 'FAILED', reason: ABANDONED_RUN_ERROR, finished_at: run.finished_at });
    // The reads wrote nothing: the row is RUNNING until the next run, under the lock, closes it.
    expect(await t.dataSource.query('SELECT status FROM job_runs WHERE id = $1', [run.id])).toEqual([{ status: 'RUNNING' }]);

    const res = await t.http().post(RUN).set(auth).send({ send_window_start: 0, send_window_end: 24 }).expect(200);
    expect(res.body.sent).toBe(eligible - beforeRestart.size);

    const after = await messagesPerCustomer(t.dataSource);
    expect(after.size).toBe(eligible);
    expect(Math.max(...after.values())).toBe(1);
    const runs = await t.dataSource.query('SELECT status, error FROM job_runs ORDER BY started_at');
    expect(runs).toEqual([
      { status: 'FAILED', error: ABANDONED_RUN_ERROR },
      { status: 'DONE', error: null },
    ]);
  });
});
