import { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { insertCustomers, messagesPerCustomer } from './support/customers';
import { freePort, startService } from './support/service-process';
import { ADMIN_KEY, auth, createTestApp, JWT_SECRET, resetDatabase, TestApp } from './support/test-app';

const RUN = '/internal/ai/smartengage/run-segment';

/** The built service as its own OS process, so it can be killed with SIGKILL mid-run. */
async function startKillableService(port: number): Promise<ChildProcess> {
  const service = await startService(port, {
    ...process.env,
    NODE_ENV: 'test',
    ADMIN_API_KEYS: ADMIN_KEY,
    JWT_SECRET,
    OUTBOX_DIR: mkdtempSync(join(tmpdir(), 'smartengage-killed-')),
    CAMPAIGN_SCHEDULER_ENABLED: 'false',
    CAMPAIGN_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
  });
  return service.child;
}

describe('a campaign run killed halfway', () => {
  let t: TestApp;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    t = await createTestApp({ CAMPAIGN_SCHEDULER_ENABLED: 'false' });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await t.close();
  });

  it('resumes when started again: nobody gets two messages and the rest are sent', async () => {
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
    await insertCustomers(t.dataSource, { count: 400, daysAgo: 25, tag: 'killed' });
    const eligible = 403;

    const port = await freePort();
    child = await startKillableService(port);
    void fetch(`http://127.0.0.1:${port}${RUN}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ send_window_start: 0, send_window_end: 24, batch_size: 20 }),
    }).catch(() => undefined);

    let claimed = 0;
    for (let i = 0; i < 300 && claimed < 60; i++) {
      await sleep(20);
      claimed = Number((await t.dataSource.query('SELECT count(*) FROM ai_messages'))[0].count);
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    expect(claimed).toBeGreaterThanOrEqual(60);
    const beforeRestart = await messagesPerCustomer(t.dataSource);
    expect(beforeRestart.size).toBeLessThan(eligible);

    const res = await t.http().post(RUN).set(auth).send({ send_window_start: 0, send_window_end: 24 }).expect(200);
    expect(res.body.sent).toBe(eligible - beforeRestart.size);

    const after = await messagesPerCustomer(t.dataSource);
    expect(after.size).toBe(eligible);
    expect(Math.max(...after.values())).toBe(1);
    const runs = await t.dataSource.query('SELECT status, error FROM job_runs ORDER BY started_at');
    expect(runs).toEqual([
      { status: 'FAILED', error: 'interrupted: the process running it stopped' },
      { status: 'DONE', error: null },
    ]);
  });
});
