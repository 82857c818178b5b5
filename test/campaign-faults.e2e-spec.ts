import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { EligibleCustomerRepository } from '../src/segmentation/eligible-customer.repository';
import { insertCustomers } from './support/customers';
import { PgBouncer, startPgBouncer } from './support/pgbouncer';
import { runSegment, ServiceProcess, startService } from './support/service-process';
import { SmtpSink, startSmtpSink } from './support/smtp-sink';
import { startTcpRelay, TcpRelay } from './support/tcp-relay';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';
import { testDatabaseUrl } from './support/test-config';

// These specs boot the service as child processes: seconds each, far more on a loaded machine.
jest.setTimeout(90_000);

const RUN = '/internal/ai/smartengage/run-segment';
const ALWAYS_OPEN = { send_window_start: 0, send_window_end: 24 };


describe('SIGTERM during a campaign (a child process)', () => {
  let db: DataSource;
  let smtp: SmtpSink | undefined;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    db = await new DataSource(dataSourceOptions(testDatabaseUrl(), 2)).initialize();
  });
  afterAll(async () => {
    await db.destroy();
  });
  beforeEach(async () => {
    await resetDatabase(db);
    await db.query('TRUNCATE job_runs');
    await insertCustomers(db, { count: 200, daysAgo: 25, tag: 'sigterm' });
  });
  afterEach(async () => {
    service?.child.kill('SIGKILL');
    await smtp?.close();
  });

  it('finishes the messages in flight, records INTERRUPTED with the counts, releases the lock, logs it and exits', async () => {
    smtp = await startSmtpSink({ delayMs: 100 });
    const graceSeconds = 10;
    service = await startService({
      SMTP_URL: smtp.url,
      CAMPAIGN_CONCURRENCY: '4',
      SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
      LOG_LEVEL: 'log',
    });
    const answer = runSegment(service, { ...ALWAYS_OPEN, batch_size: 20 });
    await waitFor('20 messages accepted', () => smtp!.accepted() >= 20);

    const signalledAt = Date.now();
    service.child.kill('SIGTERM');
    const exit = await service.exited;
    const exitedAfterMs = Date.now() - signalledAt;
    const res = await answer;

    expect(exit.signal).toBe('SIGTERM');
    expect(exitedAfterMs).toBeLessThan(graceSeconds * 1000);
    const [run] = await db.query('SELECT id, status, error, processed, sent, failed, skipped FROM job_runs');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('CAMPAIGN_INTERRUPTED');
    expect(res.body.message).toContain(run.id);
    expect(run.status).toBe('INTERRUPTED');
    expect(run.error).toBe(`interrupted: the service is shutting down, after ${run.processed} customers`);
    // Every message the mail server accepted is counted, and none was left half-sent.
    expect(run.sent).toBe(smtp.accepted());
    expect(run.processed).toBe(run.sent + run.failed + run.skipped);
    expect(run.processed).toBeLessThan(203);
    const statuses = await db.query('SELECT delivery_status, count(*)::int AS n FROM ai_messages GROUP BY 1');
    expect(statuses).toEqual([{ delivery_status: 'sent', n: run.sent }]);
    expect(await db.query('SELECT * FROM lock_leases')).toEqual([]);

    const log = service.output();
    expect(log).toContain('Stopping 1 job run(s)');
    expect(log).toContain(`Campaign ${run.id} interrupted: the service is shutting down, after ${run.processed} customers`);
    expect(log).toContain('Job runs stopped, recorded and their locks released');
    expect(log).toContain('Shutting down on SIGTERM');
  });

  it('waits no longer than SHUTDOWN_GRACE_SECONDS for a mail server that stopped answering', async () => {
    smtp = await startSmtpSink({ hang: true });
    const graceSeconds = 2;
    service = await startService({ SMTP_URL: smtp.url, CAMPAIGN_CONCURRENCY: '4', SHUTDOWN_GRACE_SECONDS: String(graceSeconds) });
    const answer = runSegment(service, { ...ALWAYS_OPEN, batch_size: 20 });
    await waitFor('4 messages at the mail server', () => smtp!.received() >= 4);

    const signalledAt = Date.now();
    service.child.kill('SIGTERM');
    await service.exited;
    const exitedAfterMs = Date.now() - signalledAt;
    const res = await answer;

    expect(exitedAfterMs).toBeGreaterThanOrEqual(graceSeconds * 1000);
    expect(exitedAfterMs).toBeLessThan((graceSeconds + 5) * 1000);
    expect(res.body.code).toBe('CAMPAIGN_INTERRUPTED');
    const [run] = await db.query('SELECT status, processed, sent FROM job_runs');
    expect(run).toEqual({ status: 'INTERRUPTED', processed: 0, sent: 0 });
    expect(await db.query('SELECT * FROM lock_leases')).toEqual([]);
  });
});

describe.each(['direct', 'through PgBouncer'])('Postgres connections terminated mid-run (%s)', (route) => {
  let bouncer: PgBouncer | undefined;
  let t: TestApp;
  let fault: Client;

  beforeAll(async () => {
    if (route !== 'direct') bouncer = await startPgBouncer();
    t = await createTestApp({ CAMPAIGN_CONCURRENCY: '4', DATABASE_URL: bouncer?.url ?? testDatabaseUrl() });
    fault = new Client({ connectionString: testDatabaseUrl(), application_name: 'e2e-fault' });
    await fault.connect();
  });
  afterAll(async () => {
    await fault.end();
    await t.close();
    await bouncer?.stop();
  });

  it('answers CAMPAIGN_FAILED with the run id and records the run as FAILED with its counts', async () => {
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
    await insertCustomers(t.dataSource, { count: 60, daysAgo: 25, tag: 'terminated' });
    // The second page is read while the first one's deliveries finish: once all 20 are sent, nothing is in
    // flight. Lock the table there, so the page read waits on it, then terminate every backend of the service.
    const segments = t.app.get(EligibleCustomerRepository);
    const readPage = segments.page.bind(segments);
    let pagesRead = 0;
    const pageSpy = jest.spyOn(segments, 'page').mockImplementation(async (...args) => {
      if (++pagesRead !== 2) return readPage(...args);
      await waitFor('the first page to be sent', async () => {
        const sent = await fault.query(`SELECT count(*)::int AS n FROM ai_messages WHERE delivery_status = 'sent'`);
        return sent.rows[0].n === 20;
      });
      await fault.query('BEGIN');
      await fault.query('LOCK TABLE customers IN ACCESS EXCLUSIVE MODE');
      const page = readPage(...args);
      page.catch(() => undefined);
      try {
        await waitFor('the page read to wait on the lock', async () => {
          const waiting = await fault.query(
            `SELECT 1 FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'smartengage' AND wait_event_type = 'Lock'`,
          );
          return waiting.rowCount! > 0;
        });
        await fault.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'smartengage'`,
        );
      } finally {
        await fault.query('ROLLBACK');
      }
      return page;
    });

    try {
      const res = await t.http().post(RUN).set(auth).send({ ...ALWAYS_OPEN, batch_size: 20 });
      expect(res.status).toBe(500);
      expect(res.body.code).toBe('CAMPAIGN_FAILED');
      const runs = await fault.query('SELECT id, status, error, processed, sent FROM job_runs');
      expect(runs.rows).toEqual([
        { id: expect.any(String), status: 'FAILED', error: expect.stringMatching(/terminat/), processed: 20, sent: 20 },
      ]);
      expect(res.body.message).toContain(runs.rows[0].id);
      expect((await fault.query('SELECT * FROM lock_leases')).rows).toEqual([]);
    } finally {
      pageSpy.mockRestore();
    }
    // The service carries on with fresh connections: the next run sends to the rest.
    const again = await t.http().post(RUN).set(auth).send(ALWAYS_OPEN).expect(200);
    expect(again.body.sent).toBe(63 - 20);
  });
});

describe('the database refusing connections mid-run', () => {
  let relay: TcpRelay;
  let smtp: SmtpSink;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    relay = await startTcpRelay(process.env.DATABASE_URL!);
    smtp = await startSmtpSink({ delayMs: 300 });
    t = await createTestApp({ CAMPAIGN_CONCURRENCY: '4', DATABASE_URL: relay.url, SMTP_URL: smtp.url });
    db = await new DataSource(dataSourceOptions(process.env.DATABASE_URL!, 2)).initialize();
  });
  afterAll(async () => {
    await relay.restore();
    await t.close();
    await db.destroy();
    await smtp.close();
    await relay.close();
  });

  it('answers CAMPAIGN_FAILED after N customers; once the database is back the row says the same, its counts following the rows', async () => {
    await resetDatabase(db);
    await db.query('TRUNCATE job_runs');
    await insertCustomers(db, { count: 200, daysAgo: 25, tag: 'refused' });

    const response = t.http().post(RUN).set(auth).send({ ...ALWAYS_OPEN, batch_size: 20 }).then((res) => res);
    // Cut while messages sit at the mail server: it accepts them after the database went away, so their rows
    // stay `sending` (then `unknown`) although the email went out.
    await waitFor('30 messages accepted and more at the mail server', () => smtp.accepted() >= 30 && smtp.received() > smtp.accepted(), 60_000);
    await relay.cut();
    const res = await response;
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // still refusing after the answer
    await relay.restore();

    expect(res.status).toBe(500);
    expect(res.body.code).toBe('CAMPAIGN_FAILED');
    const [, runId, processed] = /campaign run (\S+) failed after (\d+) customers/.exec(res.body.message)!;
    await waitFor('the run to record its end', async () => {
      const [row] = await db.query('SELECT status FROM job_runs WHERE id = $1', [runId]);
      return row.status !== 'RUNNING';
    }, 30_000);
    const [row] = await db.query('SELECT status, error, processed, sent, failed, skipped, unknown FROM job_runs WHERE id = $1', [runId]);
    expect(row).toMatchObject({ status: 'FAILED', processed: Number(processed) });
    expect(row.error).not.toMatch(/abandoned/);
    expect(row.processed).toBe(row.sent + row.failed + row.skipped + row.unknown);

    // Unknown is not failed: the counts say what the rows say.
    const [rows] = await db.query(
      `SELECT count(*) FILTER (WHERE delivery_status = 'sent')::int AS sent,
              count(*) FILTER (WHERE delivery_status IN ('sending', 'unknown'))::int AS unknown
         FROM ai_messages WHERE job_run_id = $1`,
      [runId],
    );
    expect(rows.unknown).toBeGreaterThan(0);
    expect({ sent: row.sent, unknown: row.unknown }).toEqual(rows);
    expect(smtp.accepted()).toBeLessThanOrEqual(row.sent + row.unknown);
  });
});
