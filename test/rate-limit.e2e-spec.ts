import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO } from '../src/database/demo-seed';
import { EphemeralRedis } from './support/ephemeral-redis';
import { bookingToken, readOutboxMail } from './support/outbox';
import { freePort } from './support/service-process';
import { auth, createTestApp, PUBLIC_BASE_URL, resetDatabase, TestApp } from './support/test-app';

/** A real Redis, as CI provides it (.ci/run). */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// Well-formed (22 base64url characters) but naming no message.
const UNKNOWN_CODE = randomBytes(16).toString('base64url');

type Call = (t: TestApp) => Promise<{ status: number; headers: Record<string, string>; body: Record<string, unknown> }>;

/**
 * One request to each rate-limited public route, with input that needs no data: the limit counts every answer.
 * The click redirect has its own limit (CLICK_RATE_LIMIT_PER_MINUTE); the open pixel is never refused.
 */
const PUBLIC_ROUTES: [string, Call][] = [
  ['GET /r/:code', (t) => t.http().get(`/r/${UNKNOWN_CODE}`)],
  ['POST /events', (t) => t.http().post('/events').send({ event_type: 'message_opened', source: 'email' })],
  ['GET /unsubscribe/:token', (t) => t.http().get('/unsubscribe/not-a-token')],
  ['POST /unsubscribe/:token', (t) => t.http().post('/unsubscribe/not-a-token')],
];

async function statuses(call: () => PromiseLike<{ status: number }>, times: number): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < times; i++) result.push((await call()).status);
  return result;
}

function expectTooManyRequests(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }): void {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
  expect(res.body).toEqual({
    statusCode: 429,
    code: 'TOO_MANY_REQUESTS',
    message: expect.stringMatching(/^too many requests: at most \d+ a minute from one client; retry after \d+ s$/),
    correlationId: expect.any(String),
  });
}

/** Waits out the last seconds of a minute, so a burst of requests falls into one minute. */
async function startOfAMinute(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 100));
}

describe('public routes under load', () => {
  describe('in memory (no REDIS_URL)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ PUBLIC_RATE_LIMIT_PER_MINUTE: '5', CLICK_RATE_LIMIT_PER_MINUTE: '5' });
    });
    afterAll(() => t.close());

    it.each(PUBLIC_ROUTES)('%s: 429 with Retry-After and the standard error body past the limit', async (_route, call) => {
      const before = await statuses(() => call(t), 5);
      expect(before.filter((status) => status === 429)).toEqual([]);
      expectTooManyRequests(await call(t));
    });

    it('counts per client IP, and does not believe X-Forwarded-For without TRUST_PROXY', async () => {
      const spoofed = await t.http().get(`/r/${UNKNOWN_CODE}`).set('X-Forwarded-For', '203.0.113.77');
      expect(spoofed.status).toBe(429);
    });

    it('GET /o/:code is never refused: past the limits it still answers the image', async () => {
      for (let i = 0; i < 8; i++) {
        const res = await t.http().get(`/o/${UNKNOWN_CODE}.gif`);
        expect([res.status, res.headers['content-type']]).toEqual([200, 'image/gif']);
      }
    });

    it('leaves admin routes alone', async () => {
      expect(await statuses(() => t.http().get('/admin/smartengage/stats').set(auth), 8)).toEqual(Array(8).fill(200));
    });
  });

  describe('the click redirect has its own limit (CLICK_RATE_LIMIT_PER_MINUTE)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ PUBLIC_RATE_LIMIT_PER_MINUTE: '2', CLICK_RATE_LIMIT_PER_MINUTE: '4' });
    });
    afterAll(() => t.close());

    it('allows 4 clicks and 2 unsubscribe pages a minute from one client', async () => {
      expect(await statuses(() => t.http().get(`/r/${UNKNOWN_CODE}`), 5)).toEqual([404, 404, 404, 404, 429]);
      const refused = await t.http().get(`/r/${UNKNOWN_CODE}`);
      expect(refused.body.message).toMatch(/^too many requests: at most 4 a minute from one client/);
      expect(await statuses(() => t.http().get('/unsubscribe/not-a-token'), 3)).toEqual([400, 400, 429]);
    });
  });

  describe('behind a trusted proxy (TRUST_PROXY=loopback)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ CLICK_RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: 'loopback' });
    });
    afterAll(() => t.close());

    it('gives each forwarded client its own budget', async () => {
      const from = (ip: string) => () => t.http().get(`/r/${UNKNOWN_CODE}`).set('X-Forwarded-For', ip);
      expect(await statuses(from('203.0.113.1'), 3)).toEqual([404, 404, 429]);
      expect(await statuses(from('203.0.113.2'), 3)).toEqual([404, 404, 429]);
    });
  });

  describe('in Redis (REDIS_URL)', () => {
    const prefix = `smartengage-e2e-${process.pid}-${Date.now()}:`;
    let redis: Redis;
    const apps: TestApp[] = [];

    beforeAll(() => {
      redis = new Redis(REDIS_URL);
    });
    afterAll(async () => {
      await Promise.all(apps.map((app) => app.close()));
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    it('two instances share one budget', async () => {
      const env = { CLICK_RATE_LIMIT_PER_MINUTE: '4', REDIS_URL, REDIS_KEY_PREFIX: prefix };
      const [a, b] = [await createTestApp(env), await createTestApp(env)];
      apps.push(a, b);
      const click = (t: TestApp) => () => t.http().get(`/r/${UNKNOWN_CODE}`);

      expect(await statuses(click(a), 2)).toEqual([404, 404]);
      expect(await statuses(click(b), 2)).toEqual([404, 404]);
      expectTooManyRequests(await click(a)());
      expectTooManyRequests(await click(b)());
      expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
    });

    it('a Redis lost after boot falls back to a per-instance limit, without errors', async () => {
      // A Redis of the test's own, so that it can go away; boot itself refuses an unreachable REDIS_URL.
      const own = new EphemeralRedis(await freePort());
      await own.start();
      const t = await createTestApp({ CLICK_RATE_LIMIT_PER_MINUTE: '3', REDIS_URL: own.url, REDIS_KEY_PREFIX: prefix });
      await own.kill();
      try {
        expect(await statuses(() => t.http().get(`/r/${UNKNOWN_CODE}`), 4)).toEqual([404, 404, 404, 429]);
      } finally {
        // Back before the app closes: its queue connections would otherwise wait for Redis.
        await own.start();
        await t.close();
        await own.kill();
      }
    });
  });

  describe('engagement through the tracking links', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ PUBLIC_RATE_LIMIT_PER_MINUTE: '1000', EMAIL_CLICK_TRACKING: 'true', EMAIL_OPEN_TRACKING: 'true' });
      await resetDatabase(t.dataSource);
    });
    afterAll(() => t.close());

    const rows = async (messageId: string) =>
      t.dataSource.query(`SELECT event_type, count(*)::int AS n FROM message_events WHERE message_id = $1 GROUP BY 1 ORDER BY 1`, [
        messageId,
      ]);

    it('50 clicks and 50 opens of one message in a minute store one click and one open', async () => {
      const res = await t.http().post('/admin/smartengage/send-single').set(auth).send({ customer_id: DEMO.customers.regular, message_type: 'reminder' }).expect(200);
      // The links as the email carries them.
      const html = String((await readOutboxMail(t.outboxDir, res.body.message_id)).html);
      const [click, open] = [/\/r\/[\w-]+/, /\/o\/[\w-]+\.gif/].map((link) => new RegExp(`${PUBLIC_BASE_URL}(${link.source})`).exec(html)![1]);
      await startOfAMinute();
      for (let i = 0; i < 50; i++) {
        await t.http().get(click).expect(302);
        await t.http().get(open).expect(200);
      }
      expect(await rows(res.body.message_id)).toEqual([
        { event_type: 'message_clicked', n: 1 },
        { event_type: 'message_opened', n: 1 },
      ]);
      const [{ delivery_status: status }] = await t.dataSource.query('SELECT delivery_status FROM ai_messages WHERE id = $1', [res.body.message_id]);
      expect(status).toBe('clicked');
    });
  });

  describe('the open pixel behind a mail proxy', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ EMAIL_OPEN_TRACKING: 'true', OPEN_RECORD_LIMIT_PER_MINUTE: '100', TRUST_PROXY: 'loopback' });
      await resetDatabase(t.dataSource);
    });
    afterAll(() => t.close());

    const opens = async (messageId: string) =>
      (await t.dataSource.query(`SELECT count(*)::int AS n FROM message_events WHERE message_id = $1`, [messageId]))[0].n;

    it('2,000 pixel requests from one IP in a minute all answer 200 with the image; past its budget the IP\'s opens are not recorded', async () => {
      const openLink = async (customerId: string) => {
        const res = await t.http().post('/admin/smartengage/send-single').set(auth).send({ customer_id: customerId, message_type: 'reminder' }).expect(200);
        const html = String((await readOutboxMail(t.outboxDir, res.body.message_id)).html);
        return { messageId: res.body.message_id as string, path: new RegExp(`${PUBLIC_BASE_URL}(/o/[\\w-]+\\.gif)`).exec(html)![1] };
      };
      const [first, second] = [await openLink(DEMO.customers.regular), await openLink(DEMO.customers.vip)];
      // Over a real socket with keep-alive, as a proxy fetches (supertest would start a server per request).
      const server = t.app.getHttpServer() as Server;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const fromProxy = async (path: string, ip = '66.249.84.10'): Promise<[number, string | null, number]> => {
        const res = await fetch(`${base}${path}`, { headers: { 'X-Forwarded-For': ip } });
        return [res.status, res.headers.get('content-type'), (await res.arrayBuffer()).byteLength];
      };

      await startOfAMinute();
      const started = Date.now();
      const answers: [number, string | null, number][] = [];
      // A proxy fetching for many readers at once: 50 requests in flight.
      for (let batch = 0; batch < 40; batch++) {
        answers.push(...(await Promise.all(Array.from({ length: 50 }, () => fromProxy(first.path)))));
      }
      process.stdout.write(`2,000 pixel requests from one IP, 50 in flight: ${Date.now() - started} ms\n`);
      expect(answers).toHaveLength(2000);
      expect(answers.filter(([status, type, bytes]) => status !== 200 || type !== 'image/gif' || bytes !== 42)).toEqual([]);
      expect(await opens(first.messageId)).toBe(1);

      // The proxy's budget (OPEN_RECORD_LIMIT_PER_MINUTE) is spent: its next open is served, not recorded.
      expect(await fromProxy(second.path)).toEqual([200, 'image/gif', 42]);
      expect(await opens(second.messageId)).toBe(0);
      // Another client's open of the same message is.
      expect(await fromProxy(second.path, '198.51.100.7')).toEqual([200, 'image/gif', 42]);
      expect(await opens(second.messageId)).toBe(1);
    }, 120_000);
  });

  describe('engagement events reported by the booking app', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ PUBLIC_RATE_LIMIT_PER_MINUTE: '1000' });
      await resetDatabase(t.dataSource);
    });
    afterAll(() => t.close());

    const rows = async (messageId: string) =>
      t.dataSource.query(`SELECT event_type, count(*)::int AS n FROM message_events WHERE message_id = $1 GROUP BY 1 ORDER BY 1`, [
        messageId,
      ]);

    it('POST /events: a second click in the same minute is the stored one (200, duplicate); the next minute is new', async () => {
      const res = await t.http().post('/admin/smartengage/send-single').set(auth).send({ customer_id: DEMO.customers.vip, message_type: 'reminder' }).expect(200);
      const mail = await readOutboxMail(t.outboxDir, res.body.message_id);
      const bearer = { Authorization: `Bearer ${bookingToken(mail.text!)}` };
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      const at = (ms: number) => ({ event_type: 'message_clicked', source: 'email', occurred_at: new Date(ms).toISOString() });

      const first = await t.http().post('/events').set(bearer).send(at(minute + 10)).expect(201);
      const again = await t.http().post('/events').set(bearer).send(at(minute + 59_000)).expect(200);
      expect(again.body).toEqual({ ...first.body, duplicate: true });
      await t.http().post('/events').set(bearer).send(at(minute - 1)).expect(201);
      expect(await rows(res.body.message_id)).toEqual([{ event_type: 'message_clicked', n: 2 }]);
    });
  });
});
