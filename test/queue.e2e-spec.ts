import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { insertCustomers } from './support/customers';
import { runSegment, ServiceProcess, startService } from './support/service-process';
import { ScriptedSmtpServer } from './support/scripted-smtp';
import { createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN_BODY = { send_window_start: 0, send_window_end: 24, batch_size: 500 };

/** Sent messages counted by one process's /metrics (ai_delivery_attempts_total{channel="EMAIL",outcome="sent"}). */
async function sentBy(service: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('ai_delivery_attempts_total{') && l.includes('outcome="sent"') && l.includes('channel="EMAIL"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function byStatus(dataSource: DataSource): Promise<Record<string, number>> {
  const rows: { delivery_status: string; n: number }[] = await dataSource.query(
    'SELECT delivery_status, count(*)::int AS n FROM ai_messages GROUP BY delivery_status',
  );
  return Object.fromEntries(rows.map((row) => [row.delivery_status, row.n]));
}

/**
 * Queue mode across OS processes: one API process (APP_ROLE=api) produces the campaign's jobs, two worker
 * processes (APP_ROLE=worker) deliver them, all on one database and one Redis (own key prefix per test).
 */
describe('queue mode: one API process and two worker processes', () => {
  const smtp = new ScriptedSmtpServer();
  let t: TestApp;
  const processes: ServiceProcess[] = [];
  let prefix: string;

  const queueEnv = (extra: Record<string, string> = {}) => ({
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SMTP_URL: smtp.url,
    ...extra,
  });
  const start = async (env: Record<string, string>) => {
    const service = await startService(env);
    processes.push(service);
    return service;
  };

  beforeAll(async () => {
    await smtp.start();
    t = await createTestApp();
  });
  beforeEach(async () => {
    prefix = `se-test-${randomUUID().slice(0, 8)}:`;
    smtp.accepted.length = 0;
    smtp.set({ accept: true });
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
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it('delivers a 2,000-customer campaign once per customer, shared by both workers', async () => {
    await insertCustomers(t.dataSource, { count: 2_000, daysAgo: 25, tag: 'queue' });
    const api = await start(queueEnv({ APP_ROLE: 'api' }));
    const workers = await Promise.all([start(queueEnv({ APP_ROLE: 'worker' })), start(queueEnv({ APP_ROLE: 'worker' }))]);

    const res = await runSegment(api, RUN_BODY);
    expect(res.status).toBe(200);
    const eligible = res.body.total_eligible as number;
    expect(eligible).toBeGreaterThanOrEqual(2_000);
    expect(res.body).toMatchObject({ status: 'DONE', sent: eligible, failed: 0 });

    const perRecipient = smtp.perRecipient();
    expect(perRecipient.size).toBe(eligible);
    expect(Math.max(...perRecipient.values())).toBe(1);
    expect(await byStatus(t.dataSource)).toEqual({ sent: eligible });
    const shares = await Promise.all(workers.map(sentBy));
    expect(shares[0] + shares[1]).toBe(eligible);
    expect(Math.min(...shares)).toBeGreaterThan(0);
    expect(await sentBy(api)).toBe(0);
  });
});
