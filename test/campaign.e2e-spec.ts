import { SchedulerRegistry } from '@nestjs/schedule';
import { CronTime } from 'cron';
import { DEMO } from '../src/database/demo-seed';
import { CampaignService } from '../src/jobs/campaign.service';
import { localHour } from '../src/common/local-time';
import { EligibleCustomerRepository } from '../src/segmentation/eligible-customer.repository';
import { insertCustomers, messagesPerCustomer } from './support/customers';
import { PgBouncer, startPgBouncer } from './support/pgbouncer';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { testDatabaseUrl } from './support/test-config';

const RUN = '/internal/ai/smartengage/run-segment';
const ALWAYS_OPEN = { send_window_start: 0, send_window_end: 24 };
const DEMO_IDS = [DEMO.customers.regular, DEMO.customers.vip, DEMO.customers.newcomer];
/** Everything but Date stays real when a test sets the clock. */
const REAL_TIMERS: NonNullable<FakeTimersConfig['doNotFake']> = [
  'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate',
  'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout',
];

// The whole suite runs twice: straight to Postgres, and through PgBouncer in transaction mode (issue 10).
describe.each(['direct', 'through PgBouncer'])('campaign (%s)', (route) => {
  let bouncer: PgBouncer | undefined;
  const appWith = (env: Record<string, string> = {}) =>
    createTestApp({ ...env, DATABASE_URL: bouncer?.url ?? testDatabaseUrl() });
  beforeAll(async () => {
    if (route !== 'direct') bouncer = await startPgBouncer();
  });
  afterAll(() => bouncer?.stop());

  describe('daily campaign (internal routes)', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await appWith();
    });
    afterAll(() => t.close());
    beforeEach(async () => {
      await resetDatabase(t.dataSource);
      await t.dataSource.query('TRUNCATE job_runs');
    });

    it('guards every internal route', async () => {
      await t.http().post(RUN).send({}).expect(401);
      await t.http().get('/internal/jobs/status').expect(401);
      await t.http().get('/internal/jobs/history').set({ Authorization: 'Bearer nope' }).expect(401);
    });

    it.each([
      [{ booking_cadence_days: 0 }, 'booking_cadence_days'],
      [{ preset: 'wild' }, 'preset'],
      [{ send_window_start: 25 }, 'send_window_start'],
      [{ send_window_start: 18, send_window_end: 9 }, 'send_window_start'],
      [{ promo_code: 'NOPE10' }, 'promo_code'],
      [{ batch_size: 5000 }, 'batch_size'],
    ])('answers 400 naming the bad field (%#)', async (body, field) => {
      const res = await t.http().post(RUN).set(auth).send(body).expect(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(await t.dataSource.query('SELECT * FROM job_runs')).toEqual([]);
    });

    it("runs the guide's campaign: everyone due gets one message, a second run the same day sends nothing", async () => {
      const first = await t
        .http()
        .post(RUN)
        .set(auth)
        .send({ booking_cadence_days: 21, promo_code: 'SPECIAL10', ...ALWAYS_OPEN })
        .expect(200);
      expect(first.body).toMatchObject({ status: 'DONE', total_eligible: 3, sent: 3, failed: 0, skipped: 0, promo_code: 'SPECIAL10' });
      expect(first.body.results.map((r: { customer_id: string }) => r.customer_id).sort()).toEqual([...DEMO_IDS].sort());
      expect(Date.parse(first.body.finished_at)).toBeGreaterThanOrEqual(Date.parse(first.body.started_at));
      const rows = await t.dataSource.query('SELECT DISTINCT job_run_id, campaign_day IS NOT NULL AS has_day, promo_code FROM ai_messages');
      expect(rows).toEqual([{ job_run_id: first.body.job_run_id, has_day: true, promo_code: 'SPECIAL10' }]);

      const second = await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, ...ALWAYS_OPEN }).expect(200);
      expect(second.body).toMatchObject({ total_eligible: 0, sent: 0 });
      expect([...(await messagesPerCustomer(t.dataSource)).values()]).toEqual([1, 1, 1]);

      const history = await t.http().get('/internal/jobs/history?type=smartengage&limit=5').set(auth).expect(200);
      expect(history.body.runs.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([
        [second.body.job_run_id, 'DONE'],
        [first.body.job_run_id, 'DONE'],
      ]);
      expect(history.body.runs[1]).toMatchObject({ trigger: 'manual', sent: 3, processed: 3, progress_percent: 100 });
    });

    it('segments by cadence, opt-out, frequency cap, email and upcoming bookings (dry run sends nothing)', async () => {
      const [exactly21] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 21, tag: 'exact' });
      const [almost21] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 20.99, tag: 'almost' });
      const [optedOut, capped, noEmail, upcoming, rescheduled] = await insertCustomers(t.dataSource, {
        count: 5,
        daysAgo: 30,
        tag: 'excluded',
      });
      await t.dataSource.query('UPDATE customers SET opted_out_at = now() WHERE id = $1', [optedOut]);
      await t.dataSource.query('UPDATE users SET email = NULL WHERE id = $1', [noEmail]);
      await t.dataSource.query(
        `INSERT INTO bookings (customer_id, service_id, status, booked_at, scheduled_for)
         VALUES ($1, $2, 'confirmed', now() - interval '30 days', now() + interval '2 days')`,
        [upcoming, DEMO.services.plumbing],
      );
      // A booking scheduled later, by an UPDATE of scheduled_for alone, still counts as upcoming.
      await t.dataSource.query(`UPDATE bookings SET status = 'confirmed' WHERE customer_id = $1`, [rescheduled]);
      await t.dataSource.query(`UPDATE bookings SET scheduled_for = now() + interval '5 days' WHERE customer_id = $1`, [
        rescheduled,
      ]);
      await t
        .http()
        .post('/admin/smartengage/send-single')
        .set(auth)
        .send({ customer_id: capped, message_type: 'reminder' })
        .expect(200);

      const res = await t.http().post(RUN).set(auth).send({ booking_cadence_days: 21, dry_run: true }).expect(200);
      const chosen = res.body.results.map((r: { customer_id: string }) => r.customer_id).sort();
      expect(chosen).toEqual([...DEMO_IDS, exactly21].sort());
      expect(res.body).toMatchObject({ dry_run: true, total_eligible: 4, sent: 0 });
      expect(res.body.results.every((r: { reason: string }) => r.reason === 'dry_run')).toBe(true);
      expect(chosen).not.toContain(almost21);
      expect(await messagesPerCustomer(t.dataSource)).toEqual(new Map([[capped, 1]]));
    });

    it('applies presets, with explicit fields winning', async () => {
      const aggressive = await t.http().post(RUN).set(auth).send({ preset: 'aggressive', dry_run: true }).expect(200);
      expect(aggressive.body).toMatchObject({ preset: 'aggressive', promo_code: 'COMEBACK15', total_eligible: 3 });
      const gentle = await t.http().post(RUN).set(auth).send({ preset: 'gentle', dry_run: true }).expect(200);
      expect(gentle.body.total_eligible).toBe(0); // nobody booked 28+ days ago
      const overridden = await t.http().post(RUN).set(auth).send({ preset: 'weekend', promo_code: null, dry_run: true }).expect(200);
      expect(overridden.body.promo_code).toBeNull();
    });

    it('answers 409 SEND_WINDOW_CLOSED outside the window and records the skipped trigger', async () => {
      const hour = localHour(new Date(), 'Asia/Dhaka');
      const closed = hour < 23 ? { send_window_start: hour + 1, send_window_end: 24 } : { send_window_start: 0, send_window_end: 23 };
      const res = await t.http().post(RUN).set(auth).send(closed).expect(409);
      expect(res.body.code).toBe('SEND_WINDOW_CLOSED');
      expect(res.body.message).toContain('Asia/Dhaka');
      expect(await t.dataSource.query('SELECT status FROM job_runs')).toEqual([{ status: 'SKIPPED' }]);
      expect(await messagesPerCustomer(t.dataSource)).toEqual(new Map());
    });

    it('stops at the page where the send window closes; a later run sends to the rest', async () => {
      await insertCustomers(t.dataSource, { count: 25, daysAgo: 30, tag: 'window' });
      // The clock is set to the last seconds of the current hour, whose window is [hour, hour + 1) in Dhaka,
      // and moved past it once the first page is read. Only Date is faked: timers and I/O run for real.
      const hourMs = 3_600_000;
      const lastSecond = Math.floor(Date.now() / hourMs) * hourMs + hourMs - 2_000;
      const hour = localHour(new Date(lastSecond), 'Asia/Dhaka');
      const window = { send_window_start: hour, send_window_end: hour + 1, batch_size: 10 };
      jest.useFakeTimers({ doNotFake: REAL_TIMERS, now: lastSecond });
      const segments = t.app.get(EligibleCustomerRepository);
      const readPage = segments.page.bind(segments);
      let pagesRead = 0;
      const pageSpy = jest.spyOn(segments, 'page').mockImplementation(async (...args) => {
        const page = await readPage(...args);
        if (++pagesRead === 1) jest.setSystemTime(lastSecond + 4_000);
        return page;
      });

      try {
        const first = await t.http().post(RUN).set(auth).send(window).expect(200);
        expect(first.body).toMatchObject({ status: 'DONE', sent: 10, failed: 0, skipped: 0 });
        expect(first.body.total_eligible).toBeGreaterThan(20);
        expect(first.body.stopped_reason).toBe('stopped: the send window closed after 10 customers');
        expect(pagesRead).toBe(1);
        const [run] = await t.dataSource.query('SELECT status, processed, error FROM job_runs');
        expect(run).toEqual({ status: 'DONE', processed: 10, error: 'stopped: the send window closed after 10 customers' });

        jest.setSystemTime(lastSecond);
        const second = await t.http().post(RUN).set(auth).send(window).expect(200);
        const rest = first.body.total_eligible - 10;
        expect(second.body).toMatchObject({ status: 'DONE', sent: rest, stopped_reason: null });
      } finally {
        pageSpy.mockRestore();
        jest.useRealTimers();
      }
      const perCustomer = await messagesPerCustomer(t.dataSource);
      expect(perCustomer.size).toBe(25 + DEMO_IDS.filter((id) => perCustomer.has(id)).length);
      expect([...perCustomer.values()].every((n) => n === 1)).toBe(true);
    });

    it('shows the schedule and the last run in /internal/jobs/status', async () => {
      await t.http().post(RUN).set(auth).send(ALWAYS_OPEN).expect(200);
      const res = await t.http().get('/internal/jobs/status').set(auth).expect(200);
      expect(res.body.jobs).toEqual([
        expect.objectContaining({
          name: 'smartengage_daily_campaign',
          cron: '0 9 * * *',
          timezone: 'UTC',
          send_window: { start_hour: 9, end_hour: 18, timezone: 'Asia/Dhaka' },
          running: false,
          lock: null,
          current_run: null,
          last_run: expect.objectContaining({ status: 'DONE', sent: 3 }),
        }),
        // No LLM here: nothing to prepare, and no prepare scheduled.
        expect.objectContaining({ name: 'smartengage_prepare', cron: null, enabled: false, next_run_at: null, running: false, last_run: null }),
      ]);
    });
  });

  describe('daily campaign across two application instances', () => {
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      a = await appWith({ CAMPAIGN_CONCURRENCY: '4' });
      b = await appWith({ CAMPAIGN_CONCURRENCY: '4' });
    });
    afterAll(async () => {
      await a.close();
      await b.close();
    });

    it('lets exactly one of two simultaneous triggers run; every customer gets exactly one message', async () => {
      await resetDatabase(a.dataSource);
      await insertCustomers(a.dataSource, { count: 300, daysAgo: 25, tag: 'pair' });
      const body = { ...ALWAYS_OPEN, batch_size: 50 };
      const responses = await Promise.all([a.http().post(RUN).set(auth).send(body), b.http().post(RUN).set(auth).send(body)]);

      expect(responses.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = responses.find((r) => r.status === 200)!;
      const loser = responses.find((r) => r.status === 409)!;
      expect(loser.body.code).toBe('CAMPAIGN_ALREADY_RUNNING');
      expect(winner.body).toMatchObject({ total_eligible: 303, sent: 303, failed: 0 });
      const perCustomer = await messagesPerCustomer(a.dataSource);
      expect(perCustomer.size).toBe(303);
      expect(Math.max(...perCustomer.values())).toBe(1);
    });
  });

  describe('the cron job', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await appWith({
        CAMPAIGN_SCHEDULER_ENABLED: 'true',
        CAMPAIGN_CRON: '0 9 * * *',
        CAMPAIGN_SEND_WINDOW_START: '0',
        CAMPAIGN_SEND_WINDOW_END: '24',
        CAMPAIGN_MAX_ATTEMPTS: '3',
        CAMPAIGN_RETRY_BACKOFF_MS: '100',
      });
    });
    afterAll(() => t.close());
    beforeEach(async () => {
      await resetDatabase(t.dataSource);
      await t.dataSource.query('TRUNCATE job_runs');
    });

    it('is registered with @nestjs/schedule for 09:00 UTC and reports its next run', async () => {
      const job = t.app.get(SchedulerRegistry).getCronJob('smartengage_daily_campaign');
      const expected = new CronTime('0 9 * * *', 'UTC').sendAt().toJSDate();
      expect(job.nextDate().toJSDate()).toEqual(expected);
      expect(expected.getUTCHours()).toBe(9);
      const res = await t.http().get('/internal/jobs/status').set(auth).expect(200);
      expect(res.body.jobs[0]).toMatchObject({ enabled: true, next_run_at: expected.toISOString() });
    });

    it('retries a failed run with doubling backoff and records every attempt', async () => {
      const segments = t.app.get(EligibleCustomerRepository);
      const count = jest.spyOn(segments, 'countEligible');
      count.mockRejectedValueOnce(new Error('connection reset')).mockRejectedValueOnce(new Error('connection reset'));
      try {
        const outcome = await t.app.get(CampaignService).runScheduled();
        expect(outcome).toMatchObject({ kind: 'ran', report: { status: 'DONE', counts: { sent: 3 } } });
      } finally {
        count.mockRestore();
      }
      const runs: { attempt: number; status: string; error: string | null; trigger: string; started_at: Date; finished_at: Date }[] =
        await t.dataSource.query('SELECT attempt, status, error, trigger, started_at, finished_at FROM job_runs ORDER BY started_at');
      expect(runs.map((r) => [r.attempt, r.status, r.trigger])).toEqual([
        [1, 'FAILED', 'cron'],
        [2, 'FAILED', 'cron'],
        [3, 'DONE', 'cron'],
      ]);
      expect(runs[0].error).toBe('connection reset');
      const gap = (i: number) => runs[i + 1].started_at.getTime() - runs[i].finished_at.getTime();
      expect(gap(0)).toBeGreaterThanOrEqual(100);
      expect(gap(1)).toBeGreaterThanOrEqual(200);
    });
  });
});
