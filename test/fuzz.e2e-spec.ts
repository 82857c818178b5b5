import request from 'supertest';
import { DEMO } from '../src/database/demo-seed';
import { MALFORMED_BODIES, malformedPathValues, malformedQueries, seededRandom, wrongValues } from './support/fuzz-cases';
import { bookingToken, readOutboxMail } from './support/outbox';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

/** FUZZ_SEED replays another sequence; the default keeps CI deterministic. */
const SEED = Number(process.env.FUZZ_SEED ?? 20251126);
/** Wrong values tried per body field, beyond the ones always tried. */
const VALUES_PER_FIELD = 6;

interface Schema {
  $ref?: string;
  properties?: Record<string, Schema>;
  example?: unknown;
  default?: unknown;
  enum?: unknown[];
}
interface Operation {
  parameters?: { name: string; in: 'path' | 'query' }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

type Credential = 'none' | 'admin key' | 'booking token';
interface Attempt {
  method: string;
  path: string;
  credential: Credential;
  body?: string;
  headers?: Record<string, string>;
}

const preview = (data: unknown) => {
  const text = Buffer.isBuffer(data) ? `<${data.length} bytes>` : typeof data === 'string' ? data : JSON.stringify(data);
  return text.length > 120 ? `${text.slice(0, 120)}… (${text.length} chars)` : text;
};

/** The credential that gets a route past its guard, so the input reaches the pipes and the database. */
const passing = (template: string): Credential =>
  template.startsWith('/admin') || template.startsWith('/internal') ? 'admin key' : template.startsWith('/events') ? 'booking token' : 'none';

describe('fuzz: malformed requests to every documented route', () => {
  let t: TestApp;
  let baseUrl: string;
  let doc: OpenApi;
  let credentials: Record<Credential, Record<string, string>>;

  beforeAll(async () => {
    // A limit no fuzz run reaches: a 429 must not hide a 500.
    t = await createTestApp({ PUBLIC_RATE_LIMIT_PER_MINUTE: '1000000', CLICK_RATE_LIMIT_PER_MINUTE: '1000000' });
    await t.app.listen(0, '127.0.0.1');
    baseUrl = await t.app.getUrl();
    await resetDatabase(t.dataSource);
    const sent = await t.http().post('/admin/smartengage/send-single').set(auth).send({ customer_id: DEMO.customers.regular, message_type: 'reminder' }).expect(200);
    const mail = await readOutboxMail(t.outboxDir, sent.body.message_id);
    credentials = { none: {}, 'admin key': auth, 'booking token': { Authorization: `Bearer ${bookingToken(mail.text!)}` } };
    doc = (await t.http().get('/docs-json').expect(200)).body;
  });
  afterAll(() => t.close());

  const resolve = (schema: Schema): Schema => (schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()!] : schema);

  /** A body valid as far as the docs say: each property's example, default or first enum value. */
  const validBody = (schema: Schema): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(resolve(schema).properties ?? {}).map(([name, p]) => [name, p.example ?? p.default ?? p.enum?.[0] ?? null]),
    );

  it('never answers 5xx, with or without credentials (seeded, deterministic)', async () => {
    const random = seededRandom(SEED);
    const failures: (Attempt & { status: number; response: string })[] = [];
    let sent = 0;
    const started = Date.now();

    async function send(attempt: Attempt, data?: string | Buffer): Promise<void> {
      let call = request(baseUrl)[attempt.method as 'get'](attempt.path).set(credentials[attempt.credential]).set(attempt.headers ?? {});
      if (data !== undefined) call = call.send(data);
      const res = await call;
      sent += 1;
      if (res.status >= 500) failures.push({ ...attempt, status: res.status, response: preview(res.text) });
    }

    const operations = Object.entries(doc.paths).flatMap(([template, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ template, method, operation })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(12);

    for (const { template, method, operation } of operations) {
      const parameters = operation.parameters ?? [];
      const queryNames = parameters.filter((p) => p.in === 'query').map((p) => p.name);
      const path = template.replace(/\{\w+\}/g, 'abc');
      const credential = passing(template);
      const schema = operation.requestBody?.content['application/json']?.schema;

      if (parameters.some((p) => p.in === 'path')) {
        for (const value of malformedPathValues(random)) await send({ method, path: template.replace(/\{\w+\}/g, value), credential });
      }
      for (const query of malformedQueries(queryNames, random)) await send({ method, path: `${path}?${query}`, credential });
      // Bodies are parsed before any guard runs: without credentials on every route, and with them where a DTO reads it.
      for (const withCredential of schema && credential !== 'none' ? (['none', credential] as const) : (['none'] as const)) {
        for (const body of MALFORMED_BODIES) {
          await send({ method, path, credential: withCredential, body: `${body.label}: ${preview(body.data)}`, headers: body.headers }, body.data);
        }
      }
      if (!schema) continue;
      // Each field wrong in turn, the others valid.
      const base = validBody(schema);
      for (const field of [...Object.keys(base), 'unknown_field', '__proto__']) {
        for (const value of wrongValues(random, VALUES_PER_FIELD)) {
          const data = JSON.stringify({ ...base, [field]: value });
          await send({ method, path, credential, body: `${field} = ${preview(value)}`, headers: { 'Content-Type': 'application/json' } }, data);
        }
      }
    }

    console.log(`fuzz: ${sent} requests to ${operations.length} operations in ${Date.now() - started} ms (seed ${SEED})`);
    expect(failures).toEqual([]);
  }, 60_000);
});
