import { setTimeout as sleep } from 'node:timers/promises';
import { insertCustomers } from './support/customers';
import { EphemeralRedis } from './support/ephemeral-redis';
import { freePort, runSegment, ServiceProcess, startService } from './support/service-process';
import { ScriptedSmtpServer } from './support/scripted-smtp';
import { createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

jest.setTimeout(120_000);

describe('queue mode: Redis lost mid-run', () => {
  const smtp = new ScriptedSmtpServer();
  let redis: EphemeralRedis;
  let t: TestApp;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    await smtp.start();
    redis = new EphemeralRedis(await freePort());
    await redis.start();
    t = await createTestApp();
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await redis.kill().catch(() => undefined);
    await t.close();
    await smtp.close();
  });

  it('waits while Redis is down, then finishes after it comes back empty: nobody lost, nobody twice', async () => {
    await insertCustomers(t.dataSource, { count: 300, daysAgo: 25, tag: 'outage' });
    smtp.set({ accept: true, delayMs: 100 });
    const env = { REDIS_URL: redis.url, SMTP_URL: smtp.url };
    const api = await startService({ ...env, APP_ROLE: 'api' });
    const worker = await startService({ ...env, APP_ROLE: 'worker', WORKER_CONCURRENCY: '10' });
    processes.push(api, worker);

    const run = runSegment(api, { send_window_start: 0, send_window_end: 24 });
    await waitFor('50 messages sent', () => Promise.resolve(smtp.accepted.length >= 50), 30_000);
    await redis.kill();
    await sleep(3_000);
    const health = await fetch(`${worker.url}/health/ready`);
    expect(health.status).toBe(503);
    const report = (await health.json()) as { error: Record<string, unknown> };
    expect(JSON.stringify(report)).toMatch(/"redis":\{"message":"not connected[^"]*","status":"down"\}/);
    // A worker's readiness includes its queue connection; it stays alive meanwhile.
    expect(report.error.queue).toEqual({ status: 'down', message: expect.stringMatching(/worker('s Redis connection is| is not running)/) });
    expect((await fetch(`${worker.url}/health/live`)).status).toBe(200);
    // Back, but empty: the jobs that were waiting are gone, and the producer adds them again.
    await redis.start();

    const res = await run.catch((error: unknown) => {
      throw new Error(`run-segment failed (${String(error)}); the API process said:\n${api.output().slice(-4000)}`);
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'DONE', sent: res.body.total_eligible, failed: 0 });
    const perRecipient = smtp.perRecipient();
    expect(perRecipient.size).toBe(res.body.total_eligible);
    expect(Math.max(...perRecipient.values())).toBe(1);
    const rows: { delivery_status: string; n: number }[] = await t.dataSource.query(
      'SELECT delivery_status, count(*)::int AS n FROM ai_messages GROUP BY delivery_status',
    );
    expect(rows).toEqual([{ delivery_status: 'sent', n: res.body.total_eligible }]);
    expect((await fetch(`${worker.url}/health/ready`)).status).toBe(200);
  });
});
