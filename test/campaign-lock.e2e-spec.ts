import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { insertCustomers, messagesPerCustomer } from './support/customers';
import { PgBouncer, startPgBouncer } from './support/pgbouncer';
import { runSegment, ServiceProcess, startService } from './support/service-process';
import { auth, resetDatabase } from './support/test-app';
import { testDatabaseUrl } from './support/test-config';

// These specs boot the service as child processes: seconds each, far more on a loaded machine.
jest.setTimeout(90_000);

const RUN = '/internal/ai/smartengage/run-segment';
const STATUS = '/internal/jobs/status';
const ALWAYS_OPEN = { send_window_start: 0, send_window_end: 24 };
const LEASE_TTL_SECONDS = 3;

type Json = Record<string, any>;

async function campaignStatus(service: ServiceProcess): Promise<Json> {
  const res = await fetch(`${service.url}${STATUS}`, { headers: auth });
  return ((await res.json()) as Json).jobs[0];
}

/** Advisory locks held by any backend on the test database: a leaked session lock shows here. */
function advisoryLocks(db: DataSource): Promise<unknown[]> {
  return db.query(
    `SELECT objid, pid FROM pg_locks
      WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
}

async function claimedCount(db: DataSource): Promise<number> {
  return Number((await db.query('SELECT count(*) FROM ai_messages'))[0].count);
}

describe('the campaign lock through PgBouncer in transaction mode, two application instances', () => {
  let bouncer: PgBouncer;
  let db: DataSource;
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeAll(async () => {
    bouncer = await startPgBouncer();
    db = await new DataSource(dataSourceOptions(testDatabaseUrl(), 2)).initialize();
    const env = { DATABASE_URL: bouncer.url, CAMPAIGN_CONCURRENCY: '2', LOCK_LEASE_TTL_SECONDS: String(LEASE_TTL_SECONDS) };
    [a, b] = await Promise.all([startService(env), startService(env)]);
  });
  afterAll(async () => {
    for (const service of [a, b]) service?.child.kill('SIGKILL');
    await db?.destroy();
    await bouncer?.stop();
  });
  beforeEach(async () => {
    await resetDatabase(db);
    await db.query('TRUNCATE job_runs');
  });

  it('lets exactly one of two simultaneous runs send, leaves no lock behind, and lets the next run start', async () => {
    await insertCustomers(db, { count: 300, daysAgo: 25, tag: 'pooled' });
    const body = { ...ALWAYS_OPEN, batch_size: 50 };

    const responses = await Promise.all([runSegment(a, body), runSegment(b, body)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = responses.find((r) => r.status === 200)!;
    expect(responses.find((r) => r.status === 409)!.body.code).toBe('CAMPAIGN_ALREADY_RUNNING');
    expect(winner.body).toMatchObject({ status: 'DONE', total_eligible: 303, sent: 303, failed: 0 });

    expect(await advisoryLocks(db)).toEqual([]);
    expect(await db.query('SELECT * FROM lock_leases')).toEqual([]);
    expect(await campaignStatus(b)).toMatchObject({ running: false, lock: null, current_run: null });

    // The same day again, from each instance: both start, nobody is messaged twice.
    for (const service of [b, a]) {
      const again = await runSegment(service, body);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ status: 'DONE', total_eligible: 0, sent: 0 });
    }
    const perCustomer = await messagesPerCustomer(db);
    expect(perCustomer.size).toBe(303);
    expect(Math.max(...perCustomer.values())).toBe(1);
    expect(await advisoryLocks(db)).toEqual([]);
    expect(await db.query('SELECT * FROM lock_leases')).toEqual([]);
  });

  it('frees the lock of a SIGKILLed instance within the lease TTL; status names the holder until then', async () => {
    await insertCustomers(db, { count: 400, daysAgo: 25, tag: 'killed-pooled' });
    const run = runSegment(a, { ...ALWAYS_OPEN, batch_size: 20 }).catch(() => undefined);
    for (let i = 0; i < 500 && (await claimedCount(db)) < 40; i++) await sleep(20);

    const during = await campaignStatus(b);
    expect(during).toMatchObject({ running: true, current_run: expect.objectContaining({ status: 'RUNNING' }) });
    expect(during.lock.holder).toMatch(new RegExp(`:${a.child.pid}$`));
    expect(during.current_run.holder).toBe(during.lock.holder);
    expect(Date.parse(during.lock.acquired_at)).toBeLessThanOrEqual(Date.now());

    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    await run;
    let status = await campaignStatus(b);
    while (status.running && Date.now() - killedAt < (LEASE_TTL_SECONDS + 5) * 1000) {
      await sleep(100);
      status = await campaignStatus(b);
    }
    const freedAfterMs = Date.now() - killedAt;
    expect(status).toMatchObject({ running: false, lock: null, current_run: null });
    expect(freedAfterMs).toBeLessThanOrEqual((LEASE_TTL_SECONDS + 2) * 1000);
    // The reader settled the dead run's row.
    expect(status.last_run).toMatchObject({ id: during.current_run.id, status: 'FAILED', holder: during.lock.holder });
    expect(status.last_run.error).toMatch(/^abandoned/);

    const claimedBefore = (await messagesPerCustomer(db)).size;
    const rest = await runSegment(b, ALWAYS_OPEN);
    expect(rest.status).toBe(200);
    expect(rest.body.sent).toBe(403 - claimedBefore);
    const perCustomer = await messagesPerCustomer(db);
    expect(perCustomer.size).toBe(403);
    expect(Math.max(...perCustomer.values())).toBe(1);
    expect(await db.query('SELECT * FROM lock_leases')).toEqual([]);
  });
});
