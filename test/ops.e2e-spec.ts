import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportedNames, labelValuesSelector, metricNames } from './support/promql';
import { RunningPrometheus, SCRAPE_JOB, runTool, startPrometheus, unusedPort } from './support/prometheus';
import { startService } from './support/service-process';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

const OPS = join(__dirname, '..', 'ops');
const RULES = join(OPS, 'prometheus', 'alerts.yml');
const RULE_TESTS = join(OPS, 'prometheus', 'alerts.test.yml');
const DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

interface Target {
  expr: string;
  refId: string;
  datasource?: unknown;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: unknown;
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: unknown;
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}
interface AlertingRule {
  type: 'alerting' | 'recording';
  name: string;
  query: string;
  duration: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  health: string;
  lastError?: string;
}
interface ActiveAlert {
  labels: Record<string, string>;
  state: string;
}

const dashboard = JSON.parse(readFileSync(join(OPS, 'grafana', 'smartengage.json'), 'utf8')) as Dashboard;
const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
const variableQuery = (variable: Variable) => (typeof variable.query === 'string' ? variable.query : variable.query.query);

/** Every PromQL expression of the dashboard: panel targets and the selectors of its query variables. */
const dashboardQueries = [
  ...panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr }))),
  ...dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => ({ where: `variable ${variable.name}`, expr: labelValuesSelector(variableQuery(variable)) })),
];

/** The expression as Grafana sends it for this scrape job, every instance, and fixed windows. */
const resolve = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '1h')
    .replaceAll('$job', SCRAPE_JOB)
    .replaceAll('$instance', '.*');

/** Polls until `check` returns true or `ms` pass; returns the last value seen either way. */
async function waitFor<T>(read: () => Promise<T>, check: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await sleep(250);
    value = await read();
  }
  return value;
}

describe('ops/: the Grafana dashboard and the Prometheus alert rules', () => {
  let t: TestApp;
  let prometheus: RunningPrometheus;
  const alertingRules = async () =>
    (await prometheus.get<{ groups: { rules: AlertingRule[] }[] }>('/api/v1/rules')).groups
      .flatMap((group) => group.rules)
      .filter((rule) => rule.type === 'alerting');

  beforeAll(async () => {
    // SMTP configured but unreachable: one dependency down, for the alert test. A refused connection is
    // transient and retried; short backoffs let the campaign's deliveries fail within the test.
    t = await createTestApp({ SMTP_URL: `smtp://127.0.0.1:${await unusedPort()}`, DELIVERY_RETRY_BACKOFF_MS: '10' });
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    prometheus = await startPrometheus(`127.0.0.1:${port}`, [RULES]);
  }, 60_000);
  afterAll(async () => {
    await prometheus?.close();
    await t?.close();
  });

  it('passes promtool: the rules check, and their unit tests (each alert fires, and stays quiet, as intended)', () => {
    const check = runTool('promtool', ['check', 'rules', RULES]);
    expect(check).toEqual({ status: 0, output: expect.stringContaining('SUCCESS: 10 rules found') });
    const unitTests = runTool('promtool', ['test', 'rules', RULE_TESTS]);
    expect(unitTests).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('gives every alert a for, a severity and a summary and description, as Prometheus loads them', async () => {
    const rules = await alertingRules();
    expect(rules.map((rule) => rule.name).sort()).toEqual([
      'SmartEngageCampaignDidNotRun',
      'SmartEngageCampaignFailed',
      'SmartEngageCampaignPaused',
      'SmartEngageDependencyDown',
      'SmartEngageDown',
      'SmartEngageHttpErrorsHigh',
      'SmartEngageLlmFallbackRatioHigh',
      'SmartEngageLlmUnreachable',
      'SmartEngageQueueWithoutWorkers',
      'SmartEngageSendFailureRatioHigh',
    ]);
    for (const rule of rules) {
      expect({ name: rule.name, hasFor: rule.duration > 0, severity: rule.labels.severity }).toEqual({
        name: rule.name,
        hasFor: true,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(rule.annotations).toEqual({ summary: expect.stringMatching(/\w/), description: expect.stringMatching(/\w/) });
    }
  });

  it('lays the dashboard out in rows, every query on the ${DS_PROMETHEUS} data source variable', () => {
    expect(dashboard).toMatchObject({ schemaVersion: 39, uid: 'smartengage' });
    expect(dashboard.templating.list.map((variable) => [variable.name, variable.type])).toEqual([
      ['DS_PROMETHEUS', 'datasource'],
      ['job', 'query'],
      ['instance', 'query'],
    ]);
    expect(dashboard.panels.filter((panel) => panel.type === 'row').map((row) => row.title)).toEqual([
      'Sends',
      'Campaign',
      'LLM & safety',
      'HTTP',
      'Database',
    ]);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      expect([panel.title, panel.datasource, panel.targets?.length]).toEqual([panel.title, DATASOURCE, expect.any(Number)]);
      for (const target of panel.targets ?? []) expect([panel.title, target.datasource]).toEqual([panel.title, DATASOURCE]);
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) expect(variable.datasource).toEqual(DATASOURCE);

    // Within 24 columns, and no two panels on the same cell.
    const cells = new Map<string, string>();
    for (const { title, gridPos } of dashboard.panels) {
      expect([title, gridPos.x + gridPos.w <= 24]).toEqual([title, true]);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect([title, cells.get(`${x},${y}`)]).toEqual([title, undefined]);
          cells.set(`${x},${y}`, title);
        }
      }
    }
  });

  it('names only metrics the service exports, in every panel, variable and alert rule', async () => {
    // Queue mode exports the queue's gauges too: a queue-mode process (its own key prefix) says which.
    const queued = await startService({
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `se-ops-${process.pid}:`,
      APP_ROLE: 'worker',
    });
    const queueMetrics = await (await fetch(`${queued.url}/metrics`)).text().finally(() => queued.stop());
    const exported = new Set([...exportedNames((await t.http().get('/metrics').expect(200)).text), ...exportedNames(queueMetrics)]);
    const unknown = (expr: string) => metricNames(expr).filter((name) => !exported.has(name));
    // The check itself: a misspelt name is caught, and an exported family with no samples yet is not.
    expect(unknown('sum(rate(ai_messages_sent_totl{job="$job"}[$__rate_interval]))')).toEqual(['ai_messages_sent_totl']);
    expect(unknown('histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))')).toEqual([]);

    const queries = [
      ...dashboardQueries,
      ...(await alertingRules()).map((rule) => ({ where: `alert ${rule.name}`, expr: rule.query })),
    ];
    expect(queries.filter(({ expr }) => metricNames(expr).length === 0)).toEqual([]);
    expect(queries.flatMap(({ where, expr }) => unknown(expr).map((name) => `${where}: ${name}`))).toEqual([]);
  });

  it('has data in every panel once Prometheus has scraped a campaign run', async () => {
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
    const run = await t.http().post('/internal/ai/smartengage/run-segment').set(auth).send({ send_window_start: 0, send_window_end: 24 });
    expect(run.body).toMatchObject({ status: 'DONE', total_eligible: 3, failed: 3 }); // the SMTP server is unreachable
    await t.http().get('/unsubscribe/not-a-token-0123456789').expect(400);

    const done = await waitFor(
      () => prometheus.query(`ai_campaign_latest_run_customers{job="${SCRAPE_JOB}", state="failed"} == 3`),
      (result) => result.length > 0,
      15_000,
    );
    expect(done).toHaveLength(1);
    await sleep(4_000); // two more scrapes, so every rate() has a sample after the run

    const empty: string[] = [];
    for (const { where, expr } of dashboardQueries) {
      if ((await prometheus.query(resolve(expr))).length === 0) empty.push(where);
    }
    expect(empty).toEqual([]);
    const [status] = await prometheus.query(resolve(panels.find((p) => p.title === 'Latest run status')!.targets![0].expr));
    expect(status.metric.status).toBe('DONE');
  }, 60_000);

  it('evaluates every rule without error and, with only SMTP down, holds exactly the dependency alert', async () => {
    const alerts = await waitFor(
      async () =>
        (await prometheus.get<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts.map((alert) => ({
          alertname: alert.labels.alertname,
          check: alert.labels.check,
          state: alert.state,
        })),
      (active) => active.length === 1 && active[0].alertname === 'SmartEngageDependencyDown',
      15_000,
    );
    // `for: 2m`: pending, not yet firing.
    expect(alerts).toEqual([{ alertname: 'SmartEngageDependencyDown', check: 'smtp', state: 'pending' }]);
    expect((await alertingRules()).filter((rule) => rule.health !== 'ok' || rule.lastError)).toEqual([]);
  }, 60_000);
});
