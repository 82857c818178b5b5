import { getMetadataStorage } from 'class-validator';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { answerTo } from '../src/common/all-exceptions.filter';
import { ErrorCode } from '../src/common/app.exception';
import { EnvironmentVariables } from '../src/config/environment';
import { DEMO } from '../src/database/demo-seed';
import { mermaidStateDiagram } from '../src/messaging/delivery-status';
import { Metric } from '../src/metrics/metric-names';
import {
  anchors,
  codeSpans,
  documentedRequests,
  linkTargets,
  readDoc,
  ROOT,
  section,
  tableRows,
} from './support/markdown';
import { bookingToken, readOutboxMail } from './support/outbox';
import { createTestApp, resetDatabase, TestApp } from './support/test-app';

const README_MAX_LINES = 300;
const DOC_PAGES = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));
const DOCS = ['README.md', ...DOC_PAGES.map((name) => `docs/${name}`)];

describe('README and docs/ stay true to the code', () => {
  it('keeps the README a short front door', () => {
    expect(readDoc('README.md').split('\n').length).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it('has every relative link point at an existing file and heading', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const text = readDoc(doc);
      for (const target of linkTargets(text).filter((link) => !/^[a-z]+:/i.test(link))) {
        const [file, anchor] = target.split('#');
        const path = file ? normalize(join(dirname(doc), file)) : doc;
        if (!existsSync(join(ROOT, path))) broken.push(`${doc}: ${target} (no file ${path})`);
        else if (anchor && !anchors(readDoc(path)).has(anchor)) {
          broken.push(`${doc}: ${target} (no heading #${anchor} in ${path})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('documents every environment variable of the schema, with its default, and no others', () => {
    const schema = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
        .map((metadata) => metadata.propertyName),
    );
    const rows = tableRows(readDoc('docs/configuration.md')).filter((cells) => /^`[A-Z][A-Z0-9_]*`$/.test(cells[0]));
    const documented = new Map(rows.map(([name, defaultCell]) => [name.slice(1, -1), defaultCell]));
    expect([...documented.keys()].sort()).toEqual([...schema].sort());

    const defaults = new EnvironmentVariables() as unknown as Record<string, unknown>;
    const wrongDefaults = [...schema]
      .filter((name) => defaults[name] !== undefined)
      .filter((name) => !codeSpans(documented.get(name) ?? '').includes(String(defaults[name])))
      .map((name) => `${name}: schema ${String(defaults[name])}, docs "${documented.get(name)}"`);
    expect(wrongDefaults).toEqual([]);
  });

  it('lists every error code with the HTTP statuses the exception filter answers it with, and no others', () => {
    const rows = tableRows(section(readDoc('docs/api.md'), 'Error codes'));
    for (const [status] of rows) expect(status).toMatch(/^\d{3}(, \d{3})*$/);
    const documented = rows.flatMap(([status, codes]) => codeSpans(codes).map((code) => `${code} ${status}`));
    const statuses = new Map<string, Set<number>>();
    for (const { code, statusCode } of Object.values(ErrorCode).map(answerTo)) {
      statuses.set(code, (statuses.get(code) ?? new Set()).add(statusCode));
    }
    const answered = [...statuses].map(([code, set]) => `${code} ${[...set].sort().join(', ')}`);
    expect([...documented].sort()).toEqual(answered.sort());
  });

  it('describes every metric the service exports, and no others', () => {
    const rows = tableRows(section(readDoc('docs/operations.md'), 'Metrics'));
    const documented = rows.map(([name]) => codeSpans(name)[0]);
    expect([...documented].sort()).toEqual(Object.values(Metric).sort());
  });

  it('draws the message state machine as src/messaging/delivery-status.ts declares it', () => {
    const drawn = /^```mermaid\n([\s\S]*?)\n```$/m.exec(section(readDoc('docs/architecture.md'), 'Message states'));
    expect(drawn?.[1]).toBe(mermaidStateDiagram());
  });
});

describe('the documented API matches the running service', () => {
  let t: TestApp;

  beforeAll(async () => {
    // As `npm start` with nothing configured: no admin keys (loopback callers allowed), the send window
    // always open and no SMS quiet hours, so the demo answers the same at any hour.
    t = await createTestApp({
      ADMIN_API_KEYS: undefined,
      CAMPAIGN_SEND_WINDOW_START: '0',
      CAMPAIGN_SEND_WINDOW_END: '24',
      SMS_QUIET_HOURS_START: '0',
      SMS_QUIET_HOURS_END: '0',
    });
  });
  afterAll(() => t.close());

  it('lists every route of the OpenAPI document in docs/api.md, and no others', async () => {
    const { body } = await t.http().get('/docs-json').expect(200);
    const served = Object.entries(body.paths as Record<string, Record<string, unknown>>).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((method) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const documented = tableRows(section(readDoc('docs/api.md'), 'Routes'))
      .flatMap(([route]) => codeSpans(route))
      .filter((route) => !/^GET \/docs(-json)?$/.test(route));
    expect(documented.sort()).toEqual(served.sort());
  });

  it.each(documentedRequests(readDoc('README.md')).map((request) => [`${request.method} ${request.path}`, request]))(
    'answers the README demo request %s as the README shows',
    async (_name, request) => {
      await resetDatabase(t.dataSource);
      // The events request needs a message's token, and the stats need a sent message to report.
      const headers = { ...request.headers };
      if (headers.authorization?.includes('$TOKEN') || request.path.endsWith('/stats')) {
        const token = await sendDemoReminder(t);
        if (headers.authorization) headers.authorization = headers.authorization.replace('$TOKEN', token);
      }
      let call = request.method === 'POST' ? t.http().post(request.path) : t.http().get(request.path);
      for (const [name, value] of Object.entries(headers)) call = call.set(name, value);
      const res = await (request.body === undefined ? call : call.send(request.body as object));

      const created = request.method === 'POST' && request.path === '/events';
      const answer = { status: res.status, error: res.status >= 300 ? res.body : undefined };
      expect(answer).toMatchObject({ status: created ? 201 : 200 });
      expect(differences(request.shown, res.body)).toEqual([]);
    },
  );
});

/** Sends the VIP reminder of the demo and returns the booking token of its email. */
async function sendDemoReminder(t: TestApp): Promise<string> {
  const { body } = await t
    .http()
    .post('/admin/smartengage/send-single')
    .send({
      customer_id: DEMO.customers.vip,
      message_type: 'reminder',
      service_id: DEMO.services.plumbing,
      promo_code: 'VIP20',
      ttl_hours: 72,
    })
    .expect(200);
  return bookingToken((await readOutboxMail(t.outboxDir, body.message_id)).text ?? '');
}

const VOLATILE = [
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, // ids
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, // timestamps
];
const VOLATILE_KEYS = new Set(['duration_seconds']);

/**
 * Where the answer differs from the one shown: other fields at any depth, or other values except ids, times
 * and durations. Arrays are compared by their first element (the README trims long lists).
 */
function differences(shown: unknown, actual: unknown, path = '$'): string[] {
  if (Array.isArray(shown)) {
    if (!Array.isArray(actual)) return [`${path}: shown an array, got ${JSON.stringify(actual)}`];
    return shown.length > 0 && actual.length > 0 ? differences(shown[0], actual[0], `${path}[0]`) : [];
  }
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object') return [`${path}: shown an object, got ${JSON.stringify(actual)}`];
    const [shownKeys, actualKeys] = [Object.keys(shown).sort(), Object.keys(actual).sort()];
    if (shownKeys.join() !== actualKeys.join()) return [`${path}: shown fields ${shownKeys}, got ${actualKeys}`];
    return shownKeys.flatMap((key) =>
      VOLATILE_KEYS.has(key)
        ? []
        : differences((shown as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], `${path}.${key}`),
    );
  }
  if (typeof shown === 'string' && typeof actual === 'string' && VOLATILE.some((pattern) => pattern.test(shown))) {
    return VOLATILE.some((pattern) => pattern.test(actual)) ? [] : [`${path}: shown ${shown}, got ${actual}`];
  }
  return shown === actual ? [] : [`${path}: shown ${JSON.stringify(shown)}, got ${JSON.stringify(actual)}`];
}
