import type { OpenAPIObject } from '@nestjs/swagger';
import createClient from 'openapi-fetch';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO } from '../src/database/demo-seed';
import type { paths } from './support/api-types';
import { createOpenApiDocument } from '../src/setup-app';
import { ADMIN_KEY, createTestApp, PUBLIC_BASE_URL, resetDatabase, TestApp } from './support/test-app';

const ROOT = join(__dirname, '..');
const API_TYPES_FILE = 'test/support/api-types.ts';

interface LintProblem {
  ruleId: string;
  severity: string;
  message: string;
  location: { pointer: string }[];
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, feeding it `input`; a non-zero exit is an answer, not an exception. */
function run(file: string, args: string[], input = ''): Promise<Output> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === 'number' ? error.code : error ? 1 : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

/** `redocly lint` with the committed redocly.yaml; every error and warning as one line. */
async function redoclyLint(file: string): Promise<string[]> {
  const bin = join(ROOT, 'node_modules', '.bin', 'redocly');
  const { stdout, stderr } = await run(bin, ['lint', file, '--format=json', `--config=${join(ROOT, 'redocly.yaml')}`]);
  if (!stdout.trim().startsWith('{')) throw new Error(`redocly lint gave no report: ${stderr}`);
  const report = JSON.parse(stdout) as { problems: LintProblem[] };
  return report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
}

/** The types `npm run openapi:types` would write for this document (the script as built by `npm run build`). */
async function apiTypesOf(document: OpenAPIObject): Promise<string> {
  const { code, stdout, stderr } = await run(process.execPath, [join(ROOT, 'dist/scripts/openapi-types.js'), '-'], JSON.stringify(document));
  if (code !== 0) throw new Error(`openapi-types failed (run \`npm run build\` first?): ${stderr}`);
  return stdout;
}

/** The first line where two texts differ, so a stale file fails with something readable. */
function firstDifference(actual: string, expected: string): string {
  const a = actual.split('\n');
  const b = expected.split('\n');
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}: generated ${JSON.stringify(a[at])}, committed ${JSON.stringify(b[at])}`;
}

describe('OpenAPI document and the typed client generated from it', () => {
  let t: TestApp;
  let baseUrl: string;
  let document: OpenAPIObject;

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = await t.app.getUrl();
    document = (await t.http().get('/docs-json').expect(200)).body;
  });
  afterAll(() => t.close());

  it('passes redocly lint (recommended rules) with no errors and no warnings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartengage-openapi-'));
    try {
      writeFileSync(join(dir, 'openapi.json'), JSON.stringify(document));
      expect(await redoclyLint(join(dir, 'openapi.json'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names this deployment (PUBLIC_BASE_URL) as its server', () => {
    expect(document.servers).toEqual([expect.objectContaining({ url: PUBLIC_BASE_URL })]);
  });

  it('names the serving host ("/") when PUBLIC_BASE_URL is the local default, and still lints clean', async () => {
    const local = createOpenApiDocument(t.app, 'http://localhost:8000');
    expect(local.servers).toEqual([expect.objectContaining({ url: '/' })]);
    const dir = mkdtempSync(join(tmpdir(), 'smartengage-openapi-'));
    try {
      writeFileSync(join(dir, 'openapi.json'), JSON.stringify(local));
      expect(await redoclyLint(join(dir, 'openapi.json'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`matches the committed ${API_TYPES_FILE}`, async () => {
    const generated = await apiTypesOf(document);
    const committed = readFileSync(join(ROOT, API_TYPES_FILE), 'utf8');
    if (generated !== committed) {
      throw new Error(
        `${API_TYPES_FILE} is out of date with /docs-json; run \`npm run openapi:types\` and commit it ` +
          `(${firstDifference(generated, committed)})`,
      );
    }
  });

  describe('the service called over HTTP through the typed client', () => {
    const anonymous = () => createClient<paths>({ baseUrl });
    const admin = () => createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    const request = {
      customer_id: DEMO.customers.regular,
      message_type: 'reminder',
      service_id: DEMO.services.homeCleaning,
    } as const;

    beforeAll(() => resetDatabase(t.dataSource));

    it('GET /health answers ok', async () => {
      const { data, response } = await anonymous().GET('/health');
      expect(response.status).toBe(200);
      expect(data?.status).toBe('ok');
    });

    it('POST /admin/smartengage/send-single without the admin key answers 401 in the error shape', async () => {
      const { data, error, response } = await anonymous().POST('/admin/smartengage/send-single', { body: request });
      expect(response.status).toBe(401);
      expect(data).toBeUndefined();
      expect(error).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', correlationId: expect.any(String) });
    });

    it('POST /admin/smartengage/send-single with a bad customer_id answers 400 naming the field', async () => {
      const { error, response } = await admin().POST('/admin/smartengage/send-single', {
        body: { ...request, customer_id: 'not-a-uuid' },
      });
      expect(response.status).toBe(400);
      expect(error?.code).toBe('VALIDATION_FAILED');
      expect(error?.errors?.map((e) => e.field)).toEqual(['customer_id']);
    });

    it('POST /admin/smartengage/send-single sends, and GET /internal/jobs/status reads back typed', async () => {
      const { data, error } = await admin().POST('/admin/smartengage/send-single', { body: request });
      expect(error).toBeUndefined();
      expect(data).toMatchObject({ success: true, customer_id: DEMO.customers.regular, channel: 'EMAIL' });
      expect(data?.message_id).toMatch(/^[0-9a-f-]{36}$/);

      const status = await admin().GET('/internal/jobs/status');
      expect(status.data?.jobs[0]).toMatchObject({
        name: 'smartengage_daily_campaign',
        send_window: { start_hour: expect.any(Number), end_hour: expect.any(Number), timezone: 'Asia/Dhaka' },
        running: false,
      });
    });

    it('GET /internal/jobs/history takes its typed query', async () => {
      const { data, response } = await admin().GET('/internal/jobs/history', { params: { query: { limit: 1 } } });
      expect(response.status).toBe(200);
      expect(Array.isArray(data?.runs)).toBe(true);
    });
  });
});
