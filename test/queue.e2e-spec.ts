import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { insertCustomers } from './support/customers';
import { freePort, runSegment, ServiceProcess, startService } from './support/service-process';
import { EphemeralRedis } from './support/ephemeral-redis';
import { ScriptedSmtpServer } from './support/scripted-smtp';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

jest.setTimeout(120_000);

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DEMO_CUSTOMER = '229211b0-9cf4-4e36-b707-d593034bfb0f';
const BULK_CUSTOMERS = ['201df462-8e81-475b-9b9b-2a2946218312', '55a91395-0760-4c57-a7db-ad97f2256917'];
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

  it('loses and doubles nobody when a worker is SIGKILLed mid-run: its jobs are redelivered, at most its in-flight end unknown', async () => {
    await insertCustomers(t.dataSource, { count: 400, daysAgo: 25, tag: 'kill' });
    smtp.set({ accept: true, delayMs: 150 });
    const api = await start(queueEnv({ APP_ROLE: 'api' }));
    const victim = await start(queueEnv({ APP_ROLE: 'worker', WORKER_CONCURRENCY: '10' }));
    const survivor = await start(queueEnv({ APP_ROLE: 'worker', WORKER_CONCURRENCY: '10' }));

    const run = runSegment(api, RUN_BODY);
    await waitFor('the victim to send 30 messages', async () => (await sentBy(victim)) >= 30, 30_000);
    victim.signal('SIGKILL');
    await victim.exited;

    // BullMQ hands the killed worker's jobs to the survivor once their locks expire (~30 s).
    const res = await run;
    expect(res.status).toBe(200);
    const eligible = res.body.total_eligible as number;
    const rows = await byStatus(t.dataSource);
    expect(Object.keys(rows).sort()).toEqual(expect.arrayContaining(['sent']));
    expect(rows.queued ?? 0).toBe(0);
    expect(rows.sending ?? 0).toBe(0);
    expect((rows.sent ?? 0) + (rows.unknown ?? 0) + (rows.failed ?? 0)).toBe(eligible);
    expect(rows.unknown ?? 0).toBeLessThanOrEqual(10);
    expect(rows.failed ?? 0).toBe(0);
    const perRecipient = smtp.perRecipient();
    expect(Math.max(...perRecipient.values())).toBe(1);
    // Every customer marked sent got exactly one email; the unknown ones at most one.
    expect(perRecipient.size).toBeGreaterThanOrEqual(rows.sent);
    expect(perRecipient.size).toBeLessThanOrEqual(rows.sent + (rows.unknown ?? 0));
    expect(await sentBy(survivor)).toBeGreaterThan(0);
  });

  it('holds EMAIL_RATE_LIMIT_PER_SECOND across three workers together', async () => {
    await insertCustomers(t.dataSource, { count: 800, daysAgo: 25, tag: 'rate' });
    const env = queueEnv({ EMAIL_RATE_LIMIT_PER_SECOND: '50' });
    const api = await start({ ...env, APP_ROLE: 'api' });
    await Promise.all([1, 2, 3].map(() => start({ ...env, APP_ROLE: 'worker' })));

    const started = Date.now();
    const res = await runSegment(api, RUN_BODY);
    expect(res.status).toBe(200);
    expect(res.body.sent).toBe(res.body.total_eligible);
    const seconds = (Date.now() - started) / 1000;
    const busiest10s = smtp.maxInWindow(10_000);
    expect(busiest10s).toBeLessThanOrEqual(500 * 1.05);
    // And the limit is what paces it, not something slower.
    expect(busiest10s).toBeGreaterThanOrEqual(400);
    expect(seconds).toBeGreaterThanOrEqual(res.body.total_eligible / 50 - 2);
  });

  it('rides out a provider answering 421 for 10 s: everyone sent once, the retries recorded', async () => {
    await insertCustomers(t.dataSource, { count: 300, daysAgo: 25, tag: 'greylist' });
    const api = await start(queueEnv({ APP_ROLE: 'api' }));
    const workers = await Promise.all([1, 2].map(() => start(queueEnv({ APP_ROLE: 'worker', LOG_FORMAT: 'json' }))));
    smtp.set({ reject: 421, message: 'Service not available, try again later' });
    const rejectedBefore = smtp.rejected;
    setTimeout(() => smtp.set({ accept: true }), 10_000);

    const correlationId = randomUUID();
    const response = await fetch(`${api.url}/internal/ai/smartengage/run-segment`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', 'X-Correlation-ID': correlationId },
      body: JSON.stringify(RUN_BODY),
    });
    const res = { status: response.status, body: (await response.json()) as Record<string, any> };
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sent: res.body.total_eligible, failed: 0 });
    expect(smtp.rejected).toBeGreaterThan(rejectedBefore);
    expect(Math.max(...smtp.perRecipient().values())).toBe(1);
    expect(smtp.perRecipient().size).toBe(res.body.total_eligible);
    const [{ retried, max_attempts }] = await t.dataSource.query(
      `SELECT count(*) FILTER (WHERE attempts > 1)::int AS retried, max(attempts)::int AS max_attempts FROM ai_messages`,
    );
    expect(retried).toBeGreaterThan(0);
    expect(max_attempts).toBeLessThanOrEqual(5);

    // The workers' log lines carry the run's correlation id and run id.
    const retryLines = workers
      .flatMap((w) => w.stdout().split('\n'))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => String(entry.msg).includes('every deliveries-email worker waits'));
    expect(retryLines.length).toBeGreaterThan(0);
    for (const entry of retryLines) {
      expect(entry).toMatchObject({ correlationId, runId: res.body.job_run_id });
    }
  });

  const runs = (api: ServiceProcess) => ({
    post: async (path: string, body?: object) => {
      const res = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    },
    /** Polls GET /internal/jobs/runs/{id} until `condition` holds; the run as it then was. */
    until: async (id: string, what: string, condition: (run: Record<string, any>) => boolean, timeoutMs = 60_000) => {
      let run: Record<string, any> = {};
      await waitFor(`run ${id} ${what}`, async () => {
        run = (await (await fetch(`${api.url}/internal/jobs/runs/${id}`, { headers: auth })).json()) as Record<string, any>;
        return condition(run);
      }, timeoutMs);
      return run;
    },
  });

  it('pauses a queue-mode run (waiting jobs are taken back) and resumes it: everyone once', async () => {
    await insertCustomers(t.dataSource, { count: 200, daysAgo: 25, tag: 'pause' });
    smtp.set({ accept: true, delayMs: 100 });
    const api = await start(queueEnv({ APP_ROLE: 'api' }));
    await start(queueEnv({ APP_ROLE: 'worker', WORKER_CONCURRENCY: '2' }));
    const client = runs(api);

    const started = await client.post('/internal/ai/smartengage/run-segment', { ...RUN_BODY, wait: false });
    expect(started.status).toBe(202);
    const id = started.body.job_run_id as string;
    await waitFor('20 messages sent', () => Promise.resolve(smtp.accepted.length >= 20), 30_000);
    expect((await client.post(`/internal/jobs/runs/${id}/pause`)).status).toBe(202);
    const paused = await client.until(id, 'to stop paused', (run) => run.status === 'PAUSED' && run.finished_at !== null);
    expect(paused.reason).toBe('paused by an operator');
    expect(paused.sent).toBeLessThan(paused.total_eligible);
    // Nothing more goes out: the jobs still waiting were taken back from the queue.
    const sentAtPause = smtp.accepted.length;
    await sleep(1_500);
    expect(smtp.accepted.length).toBe(sentAtPause);
    expect(paused.sent).toBe(sentAtPause);

    expect((await client.post(`/internal/jobs/runs/${id}/resume`)).status).toBe(202);
    const done = await client.until(id, 'to finish', (run) => run.status === 'DONE');
    expect(done).toMatchObject({ sent: done.total_eligible, failed: 0, processed: done.total_eligible });
    expect(smtp.perRecipient().size).toBe(done.total_eligible);
    expect(Math.max(...smtp.perRecipient().values())).toBe(1);
  });

  it('auto-pauses a run whose deliveries are refused with 550, and resume completes it once the server accepts', async () => {
    await insertCustomers(t.dataSource, { count: 200, daysAgo: 25, tag: 'refused' });
    const rejectedBefore = smtp.rejected;
    smtp.set({ reject: 550, message: 'mailbox unavailable' });
    const api = await start(queueEnv({ APP_ROLE: 'api', AUTO_PAUSE_WINDOW: '20' }));
    await start(queueEnv({ APP_ROLE: 'worker', WORKER_CONCURRENCY: '5' }));
    const client = runs(api);

    const res = await client.post('/internal/ai/smartengage/run-segment', RUN_BODY);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('PAUSED');
    expect(res.body.stopped_reason).toMatch(/^auto-paused: \d+ of the last 20 deliveries failed \(last error: .*550/);
    const failed = res.body.failed as number;
    expect(failed).toBeGreaterThanOrEqual(11);
    expect(failed).toBeLessThan(res.body.total_eligible / 2);

    smtp.set({ accept: true });
    expect((await client.post(`/internal/jobs/runs/${res.body.job_run_id}/resume`)).status).toBe(202);
    const done = await client.until(res.body.job_run_id, 'to finish', (run) => run.status === 'DONE');
    // Those refused with 550 failed for good (their claim for the day stands); everyone else got one email. A
    // delivery a worker still held when the pause was recorded reports after it, so the resumed run may count one
    // more failure than the pause did: the counts follow the server's refusals, one per failed customer.
    expect(done.failed).toBeGreaterThanOrEqual(failed);
    expect(done.failed).toBe(smtp.rejected - rejectedBefore);
    expect(done).toMatchObject({ sent: done.total_eligible - done.failed, processed: done.total_eligible });
    expect(smtp.perRecipient().size).toBe(done.sent);
    expect(Math.max(...smtp.perRecipient().values())).toBe(1);
  });

  it('sends send-single and send-bulk through the workers too', async () => {
    const api = await start(queueEnv({ APP_ROLE: 'api' }));
    const worker = await start(queueEnv({ APP_ROLE: 'worker' }));
    const headers = { ...auth, 'Content-Type': 'application/json' };
    const single = await fetch(`${api.url}/admin/smartengage/send-single`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ customer_id: DEMO_CUSTOMER, message_type: 'reminder' }),
    });
    expect(single.status).toBe(200);
    const sent = (await single.json()) as { message_id: string };
    const bulk = await fetch(`${api.url}/admin/smartengage/send-bulk`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ customer_ids: BULK_CUSTOMERS, message_type: 'reminder' }),
    });
    expect(bulk.status).toBe(200);
    const bulkBody = (await bulk.json()) as { sent: number; results: { message_id?: string }[] };
    expect(bulkBody.sent).toBeGreaterThan(0);

    expect(await sentBy(worker)).toBe(1 + bulkBody.sent);
    expect(await sentBy(api)).toBe(0);
    expect(smtp.accepted).toHaveLength(1 + bulkBody.sent);
    const [row] = await t.dataSource.query('SELECT delivery_status, attempts FROM ai_messages WHERE id = $1', [sent.message_id]);
    expect(row).toEqual({ delivery_status: 'sent', attempts: 1 });
  });

  it('leaves a message waiting for its retry past STALE_CLAIM_MINUTES queued: a greylisting server, everyone once, none failed', async () => {
    await insertCustomers(t.dataSource, { count: 20, daysAgo: 25, tag: 'greylisting' });
    smtp.greylisted.clear();
    smtp.set({ accept: true, greylist: true });
    // The first retry comes 90-180 s after the 451 (half to all of the backoff), well past the 1-minute stale mark.
    const env = queueEnv({ STALE_CLAIM_MINUTES: '1', DELIVERY_RETRY_BACKOFF_MS: '180000' });
    const api = await start({ ...env, APP_ROLE: 'api' });
    await start({ ...env, APP_ROLE: 'worker' });
    const client = runs(api);

    const started = await client.post('/internal/ai/smartengage/run-segment', { ...RUN_BODY, wait: false });
    expect(started.status).toBe(202);
    const id = started.body.job_run_id as string;
    const eligible = (await client.until(id, 'to count its customers', (run) => run.total_eligible > 0)).total_eligible as number;
    await waitFor('every customer greylisted once', async () => (await byStatus(t.dataSource)).queued === eligible && smtp.greylisted.size === eligible, 30_000);
    const [{ last }] = await t.dataSource.query(`SELECT max(updated_at) AS last FROM ai_messages`);
    expect(smtp.accepted).toHaveLength(0);

    // Once every row is older than STALE_CLAIM_MINUTES, a process that boots sweeps at once, before it answers.
    await sleep(Math.max(0, new Date(last).getTime() + 62_000 - Date.now()));
    const sweeper = await start({ ...env, APP_ROLE: 'api', LOG_LEVEL: 'log' });
    expect(sweeper.output()).toMatch(new RegExp(`${eligible} stale queued message\\(s\\) still have their job in the queue`));
    expect(await byStatus(t.dataSource)).toEqual({ queued: eligible });

    const done = await client.until(id, 'to finish', (run) => run.status === 'DONE', 240_000);
    expect(done).toMatchObject({ sent: eligible, failed: 0 });
    expect(await byStatus(t.dataSource)).toEqual({ sent: eligible });
    expect(smtp.perRecipient().size).toBe(eligible);
    expect(Math.max(...smtp.perRecipient().values())).toBe(1);
  }, 300_000);

  it('answers send-single and send-bulk 202 queued within SEND_WAIT_SECONDS with no worker, and delivers them once one starts', async () => {
    const api = await start(queueEnv({ APP_ROLE: 'api', SEND_WAIT_SECONDS: '2' }));
    const headers = { ...auth, 'Content-Type': 'application/json' };
    const post = async (path: string, body: object) => {
      const started = Date.now();
      const res = await fetch(`${api.url}/admin/smartengage/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      return { res, body: (await res.json()) as Record<string, any>, seconds: (Date.now() - started) / 1000 };
    };
    const single = await post('send-single', { customer_id: DEMO_CUSTOMER, message_type: 'reminder' });
    expect(single.res.status).toBe(202);
    expect(single.seconds).toBeGreaterThanOrEqual(2);
    expect(single.seconds).toBeLessThan(6);
    expect(single.body).toMatchObject({ success: true, status: 'queued', customer_id: DEMO_CUSTOMER, channel: 'EMAIL' });
    const messageId = single.body.message_id as string;
    expect(single.res.headers.get('location')).toBe(`/admin/smartengage/messages/${messageId}`);

    const bulk = await post('send-bulk', { customer_ids: BULK_CUSTOMERS, message_type: 'reminder' });
    expect(bulk.res.status).toBe(202);
    expect(bulk.seconds).toBeLessThan(6);
    expect(bulk.body).toMatchObject({ status: 'queued', sent: 0, failed: 0, queued: BULK_CUSTOMERS.length });
    const bulkIds = (bulk.body.results as { customer_id: string; reason: string; message_id: string }[]).map((result) => {
      expect(result.reason).toBe('queued');
      return result.message_id;
    });
    expect(new Set([messageId, ...bulkIds]).size).toBe(3);

    // GET /admin/smartengage/messages/{id}: unauthenticated, bad id, unknown id, then the waiting message.
    const get = (id: string, withAuth = true) => fetch(`${api.url}/admin/smartengage/messages/${id}`, { headers: withAuth ? auth : {} });
    expect((await get(messageId, false)).status).toBe(401);
    const bad = await get('not-a-uuid');
    expect([bad.status, ((await bad.json()) as { code: string }).code]).toEqual([400, 'VALIDATION_FAILED']);
    const unknown = await get(randomUUID());
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, 'MESSAGE_NOT_FOUND']);
    const waiting = await get(messageId);
    expect(waiting.status).toBe(200);
    expect(await waiting.json()).toMatchObject({ message_id: messageId, customer_id: DEMO_CUSTOMER, channel: 'EMAIL', status: 'queued', attempts: 0, last_error: null, sent_at: null });
    expect(smtp.accepted).toHaveLength(0);

    // A worker comes: every message waiting goes out, once.
    await start(queueEnv({ APP_ROLE: 'worker' }));
    const status = async (id: string) => ((await (await get(id)).json()) as { status: string }).status;
    await waitFor('the three messages sent', async () => (await Promise.all([messageId, ...bulkIds].map(status))).every((s) => s === 'sent'), 30_000);
    expect(await (await get(messageId)).json()).toMatchObject({ status: 'sent', attempts: 1, last_error: null, sent_at: expect.any(String) });
    expect(smtp.perRecipient().size).toBe(3);
    expect(Math.max(...smtp.perRecipient().values())).toBe(1);
  });

  it('lets a worker stopped with SIGTERM finish what it holds, and leaves no message sending', async () => {
    await insertCustomers(t.dataSource, { count: 300, daysAgo: 25, tag: 'term' });
    smtp.set({ accept: true, delayMs: 300 });
    const api = await start(queueEnv({ APP_ROLE: 'api' }));
    const stopping = await start(queueEnv({ APP_ROLE: 'worker', WORKER_CONCURRENCY: '10' }));
    await start(queueEnv({ APP_ROLE: 'worker', WORKER_CONCURRENCY: '10' }));

    const run = runSegment(api, RUN_BODY);
    await waitFor('the first worker to send 20 messages', async () => (await sentBy(stopping)) >= 20, 30_000);
    stopping.signal('SIGTERM');
    const exit = await stopping.exited;
    expect(exit.signal ?? exit.code).toBe('SIGTERM');
    expect(stopping.output()).not.toMatch(/settled \d+ message/);

    const res = await run;
    expect(res.body).toMatchObject({ status: 'DONE', sent: res.body.total_eligible, failed: 0 });
    expect(await byStatus(t.dataSource)).toEqual({ sent: res.body.total_eligible });
    expect(Math.max(...smtp.perRecipient().values())).toBe(1);
  });
});

describe('queue mode with a Redis it cannot use', () => {
  it('refuses to start, naming REDIS_URL, when Redis does not answer', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    await expect(startService({ REDIS_URL: closed, APP_ROLE: 'worker' })).rejects.toThrow(/REDIS_URL redis:\/\/127\.0\.0\.1:\d+\/?: Redis did not answer/);
  });

  it('refuses to start, naming the database, when REDIS_URL selects one Redis does not have (keys would land in db 0)', async () => {
    await expect(startService({ REDIS_URL: `${REDIS_URL}/99`, APP_ROLE: 'worker' })).rejects.toThrow(
      /REDIS_URL redis:\/\/127\.0\.0\.1:\d+\/99: Redis has no database 99 \(ERR DB index is out of range\)/,
    );
  });

  describe('with a password', () => {
    const password = 'redis-pass-Kq7!x2';
    let redis: EphemeralRedis;
    beforeAll(async () => {
      redis = new EphemeralRedis(await freePort(), password);
      await redis.start();
    });
    afterAll(() => redis.kill());

    it.each([
      ['a wrong password', (url: string) => url.replace(encodeURIComponent(password), 'wrong-pass-9')],
      ['no password', (url: string) => url.replace(`:${encodeURIComponent(password)}@`, '')],
    ])('refuses to start with %s, saying Redis refused it, without echoing the password', async (_case, urlWith) => {
      const service = startService({ REDIS_URL: urlWith(redis.url), APP_ROLE: 'worker' });
      await expect(service).rejects.toThrow(/Redis refused the user name or password \((WRONGPASS|NOAUTH)/);
      await expect(service).rejects.not.toThrow(/wrong-pass-9|did not answer/);
    });

    it('starts with the right one', async () => {
      const service = await startService({ REDIS_URL: redis.url, APP_ROLE: 'worker' });
      try {
        expect((await fetch(`${service.url}/health`)).status).toBe(200);
      } finally {
        await service.stop();
      }
    });
  });
});
