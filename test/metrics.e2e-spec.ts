import { setTimeout as sleep } from 'node:timers/promises';
import { getMetricsFromIterator, PromData, PromHistogramData, PromLabels, PromMetric, PromMetrics } from 'prom2javascript';
import { DEMO } from '../src/database/demo-seed';
import { localHour } from '../src/common/local-time';
import { CAMPAIGN_STATE_CACHE_MS } from '../src/jobs/campaign.metrics';
import { DELIVERY_STATUS_CACHE_MS } from '../src/messaging/delivery-status.gauge';
import { DeliveryStatus } from '../src/messaging/delivery-status';
import { runTool } from './support/prometheus';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

const SEND = '/admin/smartengage/send-single';
const RUN = '/internal/ai/smartengage/run-segment';
const SENT_REMINDER = { agent_type: 'smartengage', channel: 'EMAIL', message_type: 'REMINDER', status: 'sent' };
const scenario1 = {
  customer_id: DEMO.customers.regular,
  message_type: 'reminder',
  service_id: DEMO.services.homeCleaning,
  promo_code: null,
  ttl_hours: 48,
};

/** Parsed families of one scrape, with helpers to pick series by a subset of their labels. */
class Scrape {
  private constructor(
    readonly text: string,
    private readonly families: PromMetrics,
  ) {}

  /**
   * Parses with prom2javascript, which rejects unparseable lines and histograms whose +Inf bucket != count.
   * It does not know the NaN sample value (prom-client writes `Nan`, which Prometheus parses case-insensitively)
   * that prom-client gives the event-loop lag gauges when no lag was sampled since the last scrape: those
   * lines, and only those, are left out.
   */
  static async parse(text: string): Promise<Scrape> {
    const lines = text.split('\n');
    const nan = lines.filter((line) => /^[^#].* nan$/i.test(line));
    expect(nan.filter((line) => !line.startsWith('nodejs_eventloop_lag_'))).toEqual([]);
    const parsed = await getMetricsFromIterator(lines.filter((line) => !nan.includes(line))[Symbol.iterator]());
    return new Scrape(text, parsed);
  }

  family(name: string): PromMetric {
    const family = this.families[name];
    if (!family) throw new Error(`${name} is not in /metrics`);
    return family;
  }

  private series<T extends { labels: PromLabels }>(name: string, labels: PromLabels): T[] {
    const data = this.family(name).data as unknown as T[];
    return data.filter((series) => Object.entries(labels).every(([key, value]) => series.labels[key] === value));
  }

  /** The value of the one counter or gauge series with these labels; 0 when it does not exist yet. */
  value(name: string, labels: PromLabels): number {
    const found = this.series<PromData>(name, labels);
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
    return found[0]?.value ?? 0;
  }

  histograms(name: string, labels: PromLabels): PromHistogramData[] {
    expect(this.family(name).type).toBe('histogram');
    return this.series<PromHistogramData>(name, labels);
  }

  /** Observations in the histogram series with these labels; 0 when there is none yet. */
  histogramCount(name: string, labels: PromLabels): number {
    return this.histograms(name, labels).reduce((total, series) => total + series.count, 0);
  }
}

describe('GET /metrics', () => {
  let t: TestApp;

  const scrape = async () => {
    const res = await t.http().get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return Scrape.parse(res.text);
  };
  const dbStatusCounts = async (): Promise<Record<string, number>> => {
    const rows: { delivery_status: string; count: number }[] = await t.dataSource.query(
      'SELECT delivery_status, count(*)::int AS count FROM ai_messages GROUP BY 1',
    );
    return Object.fromEntries(rows.map((row) => [row.delivery_status, row.count]));
  };

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  beforeEach(() => resetDatabase(t.dataSource));

  it('is public, parses as Prometheus text, and passes promtool', async () => {
    await t.http().post(SEND).set(auth).send(scenario1).expect(200);
    const metrics = await scrape();
    const types = (names: string[]) => Object.fromEntries(names.map((name) => [name, metrics.family(name).type]));
    expect(types(['process_cpu_seconds_total', 'nodejs_heap_size_used_bytes'])).toEqual({
      process_cpu_seconds_total: 'counter', // the default Node metrics stay
      nodejs_heap_size_used_bytes: 'gauge',
    });
    expect(
      types([
        'ai_messages_sent_total',
        'ai_messages_delivery_status',
        'ai_campaign_runs_total',
        'ai_sms_segments_total',
        'http_request_duration_seconds',
        'ai_message_generation_duration_seconds',
      ]),
    ).toEqual({
      ai_messages_sent_total: 'counter',
      ai_messages_delivery_status: 'gauge',
      ai_campaign_runs_total: 'counter',
      ai_sms_segments_total: 'counter',
      http_request_duration_seconds: 'histogram',
      ai_message_generation_duration_seconds: 'histogram',
    });

    expect(runTool('promtool', ['check', 'metrics'], metrics.text)).toEqual({ status: 0, output: '' });
  });

  it('counts a sent reminder, its generation time and its HTTP request', async () => {
    const before = await scrape();
    await t.http().post(SEND).set(auth).send(scenario1).expect(200);
    const after = await scrape();

    expect(after.value('ai_messages_sent_total', SENT_REMINDER)).toBe(before.value('ai_messages_sent_total', SENT_REMINDER) + 1);

    const template = { generator: 'template' };
    const generation = after.histograms('ai_message_generation_duration_seconds', template);
    expect(generation).toHaveLength(1);
    expect(generation[0].count).toBe(before.histogramCount('ai_message_generation_duration_seconds', template) + 1);
    expect(generation[0].buckets).toMatchObject({ '0.005': expect.any(Number), '30': expect.any(Number), '+Inf': generation[0].count });

    const sendRoute = { method: 'POST', route: SEND, status_code: '200' };
    expect(after.histogramCount('http_request_duration_seconds', sendRoute)).toBe(
      before.histogramCount('http_request_duration_seconds', sendRoute) + 1,
    );
  });

  it('reports every delivery status from the database, cached between close scrapes and right after a restart', async () => {
    await t.http().post(SEND).set(auth).send(scenario1).expect(200);
    await sleep(DELIVERY_STATUS_CACHE_MS); // earlier scrapes may have cached the counts
    const db = await dbStatusCounts();
    expect(db).toEqual({ sent: 1 });
    const metrics = await scrape();
    const gauge = metrics.family('ai_messages_delivery_status');
    expect((gauge.data as PromData[]).map((series) => series.labels.status).sort()).toEqual(Object.values(DeliveryStatus).sort());
    for (const status of Object.values(DeliveryStatus)) {
      expect([status, metrics.value('ai_messages_delivery_status', { status })]).toEqual([status, db[status] ?? 0]);
    }

    // A scrape right after the last one is answered from the cache, not the database.
    await t.dataSource.query("UPDATE ai_messages SET delivery_status = 'delivered'");
    const cached = await scrape();
    expect(cached.value('ai_messages_delivery_status', { status: 'sent' })).toBe(1);
    expect(cached.value('ai_messages_delivery_status', { status: 'delivered' })).toBe(0);

    // A restarted service has counted nothing in memory, yet shows what the database holds.
    await t.close();
    t = await createTestApp();
    const restarted = await scrape();
    expect(restarted.value('ai_messages_delivery_status', { status: 'sent' })).toBe(0);
    expect(restarted.value('ai_messages_delivery_status', { status: 'delivered' })).toBe(1);
  });

  it('labels requests by route template, including those a guard or pipe rejects', async () => {
    const token = 'not-a-real-token-0123456789';
    await t.http().get(`/unsubscribe/${token}`).expect(400);
    await t.http().post(SEND).send(scenario1).expect(401);
    await t.http().post(SEND).set(auth).send({ ...scenario1, customer_id: 'nope' }).expect(400);
    await t.http().get(`/no-such-page/${token}`).expect(404);

    const metrics = await scrape();
    const count = (labels: Record<string, string>) => metrics.histogramCount('http_request_duration_seconds', labels);
    expect(count({ method: 'GET', route: '/unsubscribe/:token', status_code: '400' })).toBeGreaterThanOrEqual(1);
    expect(count({ method: 'POST', route: SEND, status_code: '401' })).toBeGreaterThanOrEqual(1);
    expect(count({ method: 'POST', route: SEND, status_code: '400' })).toBeGreaterThanOrEqual(1);
    expect(count({ method: 'GET', route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(1);
    const routes = metrics.histograms('http_request_duration_seconds', {}).map((series) => series.labels.route);
    expect(routes.filter((route) => route.includes(token))).toEqual([]);
  });

  it('counts campaign runs by outcome and trigger', async () => {
    const before = await scrape();
    await t.http().post(RUN).set(auth).send({ dry_run: true }).expect(200);
    const hour = localHour(new Date(), 'Asia/Dhaka');
    const closed = hour < 23 ? { send_window_start: hour + 1, send_window_end: 24 } : { send_window_start: 0, send_window_end: 23 };
    await t.http().post(RUN).set(auth).send(closed).expect(409);
    const after = await scrape();

    for (const status of ['DONE', 'SKIPPED']) {
      const labels = { status, trigger: 'manual' };
      expect([status, after.value('ai_campaign_runs_total', labels)]).toEqual([
        status,
        before.value('ai_campaign_runs_total', labels) + 1,
      ]);
    }
  });

  it('reports the latest campaign run and the last success from job_runs, also right after a restart', async () => {
    const ALWAYS_OPEN = { send_window_start: 0, send_window_end: 24 };
    const campaign = (metrics: Scrape) => ({
      lastSuccess: metrics.value('ai_campaign_last_success_timestamp_seconds', {}),
      started: metrics.value('ai_campaign_latest_run_start_timestamp_seconds', {}),
      status: Object.fromEntries(
        (metrics.family('ai_campaign_latest_run_status').data as PromData[]).map((series) => [series.labels.status, series.value]),
      ),
      customers: Object.fromEntries(
        (metrics.family('ai_campaign_latest_run_customers').data as PromData[]).map((series) => [series.labels.state, series.value]),
      ),
    });
    const runRow = async (id: string): Promise<{ started: number; finished: number }> => {
      const [row] = await t.dataSource.query(
        'SELECT extract(epoch FROM started_at)::float AS started, extract(epoch FROM finished_at)::float AS finished FROM job_runs WHERE id = $1',
        [id],
      );
      return row;
    };
    await t.dataSource.query('TRUNCATE job_runs');
    await t.close();
    t = await createTestApp();

    expect(campaign(await scrape())).toEqual({
      lastSuccess: 0,
      started: 0,
      status: { RUNNING: 0, DONE: 0, FAILED: 0, INTERRUPTED: 0, PAUSED: 0, CANCELLED: 0 },
      customers: {},
    });

    const done = await t.http().post(RUN).set(auth).send(ALWAYS_OPEN).expect(200);
    await t.http().post(RUN).set(auth).send({ dry_run: true }).expect(200); // a dry run is not the latest run
    await sleep(CAMPAIGN_STATE_CACHE_MS);
    const doneRow = await runRow(done.body.job_run_id);
    expect(campaign(await scrape())).toEqual({
      lastSuccess: doneRow.finished,
      started: doneRow.started,
      status: { RUNNING: 0, DONE: 1, FAILED: 0, INTERRUPTED: 0, PAUSED: 0, CANCELLED: 0 },
      customers: { eligible: 3, processed: 3, sent: 3, failed: 0, skipped: 0, unknown: 0 },
    });

    // A run that fails for real: the segment query finds no customers table.
    await t.dataSource.query('ALTER TABLE customers RENAME TO customers_hidden');
    let failed;
    try {
      failed = await t.http().post(RUN).set(auth).send(ALWAYS_OPEN).expect(500);
    } finally {
      await t.dataSource.query('ALTER TABLE customers_hidden RENAME TO customers');
    }
    expect(failed.body.code).toBe('CAMPAIGN_FAILED');
    const [{ id: failedId }] = await t.dataSource.query("SELECT id FROM job_runs WHERE status = 'FAILED'");

    // A restarted replica reports it at once, with the last success still the earlier run.
    await t.close();
    t = await createTestApp();
    expect(campaign(await scrape())).toEqual({
      lastSuccess: doneRow.finished,
      started: (await runRow(failedId)).started,
      status: { RUNNING: 0, DONE: 0, FAILED: 1, INTERRUPTED: 0, PAUSED: 0, CANCELLED: 0 },
      customers: { eligible: 0, processed: 0, sent: 0, failed: 0, skipped: 0, unknown: 0 },
    });
  });

  it('reports the database pool: busy and idle connections, requests waiting, and the maximum', async () => {
    await scrape(); // the database-backed gauges now answer from their caches, and take no connection
    const pool = (metrics: Scrape) => ({
      busy: metrics.value('smartengage_db_pool_connections', { state: 'busy' }),
      waiting: metrics.value('smartengage_db_pool_waiting_requests', {}),
      max: metrics.value('smartengage_db_pool_max_connections', {}),
    });
    expect(pool(await scrape())).toEqual({ busy: 0, waiting: 0, max: 10 });

    const held = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const runner = t.dataSource.createQueryRunner();
        await runner.connect();
        return runner;
      }),
    );
    const queued = t.dataSource.query('SELECT 1');
    try {
      expect(pool(await scrape())).toEqual({ busy: 10, waiting: 1, max: 10 });
    } finally {
      await Promise.all(held.map((runner) => runner.release()));
    }
    await queued;
    const after = await scrape();
    expect(pool(after)).toEqual({ busy: 0, waiting: 0, max: 10 });
    expect(after.value('smartengage_db_pool_connections', { state: 'idle' })).toBe(10);
  });
});
