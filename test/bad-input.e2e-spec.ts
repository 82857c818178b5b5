import { Logger } from '@nestjs/common';
import { DEMO } from '../src/database/demo-seed';
import { bookingToken, readOutboxMail } from './support/outbox';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

const SEND = '/admin/smartengage/send-single';
const EVENT = { event_type: 'message_opened', source: 'email' };

/** A JSON text nested `depth` levels deep, as a hostile client would send it. */
const nested = (depth: number, open = '{"a":', close = '}') => `${open.repeat(depth)}1${close.repeat(depth)}`;

describe('bad input is a 400 naming the problem, never a 500', () => {
  let t: TestApp;
  let bearer: { Authorization: string };
  let messageId: string;
  let errorLogs: jest.SpyInstance;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
    const res = await t.http().post(SEND).set(auth).send({ customer_id: DEMO.customers.regular, message_type: 'reminder' }).expect(200);
    messageId = res.body.message_id;
    const mail = await readOutboxMail(t.outboxDir, messageId);
    bearer = { Authorization: `Bearer ${bookingToken(mail.text!)}` };
  });
  afterAll(() => t.close());
  // Every error-level line goes through Nest's Logger; a 4xx must not write one.
  beforeEach(() => {
    errorLogs = jest.spyOn(Logger.prototype, 'error');
  });
  afterEach(() => {
    const calls = [...errorLogs.mock.calls];
    errorLogs.mockRestore();
    expect(calls).toEqual([]);
  });

  const eventRows = async () => (await t.dataSource.query('SELECT count(*)::int AS n FROM message_events'))[0].n as number;

  describe('a body whose Content-Encoding does not decode', () => {
    it.each(['gzip', 'deflate', 'br'])('%s: 400 MALFORMED_BODY naming the encoding, on public and admin routes, unauthenticated', async (encoding) => {
      for (const [method, path] of [
        ['post', '/events'],
        ['post', SEND],
        ['post', '/unsubscribe/not-a-token'],
        ['get', '/health'],
      ] as const) {
        const res = await t
          .http()
          [method](path)
          .set('Content-Type', 'application/json')
          .set('Content-Encoding', encoding)
          .send(Buffer.from('{"event_type":"message_opened"} is not compressed'));
        expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 400, code: 'MALFORMED_BODY' });
        expect(res.body.message).toContain(encoding);
        expect(res.body.correlationId).toEqual(expect.any(String));
      }
    });

    it('415 for an encoding the service does not speak', async () => {
      const res = await t.http().post('/events').set('Content-Type', 'application/json').set('Content-Encoding', 'compress').send('{}');
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('compress') });
    });
  });

  describe('JSON nested thousands of levels deep', () => {
    it.each([
      ['objects', nested(5_000), 'a'],
      ['arrays', nested(5_000, '[', ']'), '0'],
      ['a field', `{"event_type":"message_opened","source":"email","occurred_at":${nested(5_000)}}`, 'occurred_at'],
    ])('%s: 400 naming the depth, on POST /events with a valid token', async (_case, body, field) => {
      const res = await t.http().post('/events').set(bearer).set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.message).toMatch(/request body is nested more than \d+ levels deep/);
      expect(res.body.errors).toEqual([{ field, message: expect.stringMatching(/nested more than/) }]);
      expect(await eventRows()).toBe(0);
    });

    it('a few levels are fine: the DTO answers as usual', async () => {
      const res = await t.http().post('/events').set(bearer).send({ ...EVENT, occurred_at: { a: { b: 1 } } }).expect(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'occurred_at' })]);
    });
  });

  describe('__proto__ and constructor keys', () => {
    it.each(['__proto__', 'constructor', 'prototype'])('%s is rejected like any unknown field', async (key) => {
      const body = `{"event_type":"message_opened","source":"email","${key}":{"polluted":true}}`;
      const res = await t.http().post('/events').set(bearer).set('Content-Type', 'application/json').send(body).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors).toEqual([{ field: key, message: `${key} is not a known field` }]);
      expect(await eventRows()).toBe(0);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('nested ones too, named by their path, on an admin route', async () => {
      const body = `{"customer_ids":["${DEMO.customers.regular}"],"message_type":"reminder","service_id":{"__proto__":{"x":1}}}`;
      const res = await t.http().post('/admin/smartengage/send-bulk').set(auth).set('Content-Type', 'application/json').send(body).expect(400);
      expect(res.body.errors).toEqual([{ field: 'service_id.__proto__', message: 'service_id.__proto__ is not a known field' }]);
    });

    it('in a query string as well', async () => {
      const res = await t.http().get('/internal/jobs/history?__proto__=1').set(auth).expect(400);
      expect(res.body.errors).toEqual([{ field: '__proto__', message: '__proto__ is not a known field' }]);
    });
  });

  describe('a NUL character', () => {
    it('in a query parameter: 400 naming it, before it reaches Postgres', async () => {
      const res = await t.http().get('/internal/jobs/history?type=smart%00engage').set(auth).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'type', message: 'type must not contain a NUL character' }] });
    });

    it('in a JSON string or a path parameter', async () => {
      const body = await t.http().post('/internal/ai/smartengage/run-segment').set(auth).send({ preset: 'default\u0000', dry_run: true }).expect(400);
      expect(body.body.errors).toEqual([{ field: 'preset', message: 'preset must not contain a NUL character' }]);
      const path = await t.http().get('/unsubscribe/abc%00def').expect(400);
      expect(path.body.errors).toEqual([{ field: 'token', message: 'token must not contain a NUL character' }]);
    });
  });

  describe('query parameters a route does not declare', () => {
    it.each([
      ['a prototype key', '__proto__[x]=1', '__proto__[x]'],
      ['a NUL character', 'a=%00', 'a'],
      ['an ordinary name', 'dry_run=true', 'dry_run'],
    ])('%s on a route without a query: 400 naming it, and nothing sent', async (_case, query, field) => {
      const before = (await t.dataSource.query('SELECT count(*)::int AS n FROM ai_messages'))[0].n;
      const res = await t.http().post(`${SEND}?${query}`).set(auth).send({ customer_id: DEMO.customers.vip, message_type: 'reminder' }).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field, message: `${field} is not a known query parameter` }] });
      expect((await t.dataSource.query('SELECT count(*)::int AS n FROM ai_messages'))[0].n).toBe(before);
    });

    it('on a public route and on /health too, after authentication on a protected one', async () => {
      await t.http().post('/events?x=1').set(bearer).send(EVENT).expect(400);
      await t.http().post('/events?x=1').send(EVENT).expect(401);
      const health = await t.http().get('/health?verbose=1').expect(400);
      expect(health.body.errors).toEqual([{ field: 'verbose', message: 'verbose is not a known query parameter' }]);
    });

    it('a route with a query DTO names the undeclared one as before', async () => {
      const res = await t.http().get('/internal/jobs/history?limit=5&sort=desc').set(auth).expect(400);
      expect(res.body.errors).toEqual([{ field: 'sort', message: 'sort is not a known field' }]);
    });

    it('the links a mail client opens ignore them: link rewriters add utm_* parameters', async () => {
      const unsubscribe = new URL(
        /<([^>]+)>/.exec((await readOutboxMail(t.outboxDir, messageId)).headerLines.find((h) => h.key === 'list-unsubscribe')!.line)![1],
      );
      await t.http().get(`${unsubscribe.pathname}?utm_source=newsletter&__proto__[x]=1`).expect(200);
    });
  });

  describe('occurred_at on POST /events', () => {
    it('400 when it is before the message was sent (1970), and nothing is stored', async () => {
      const res = await t.http().post('/events').set(bearer).send({ ...EVENT, occurred_at: '1970-01-01T00:00:00Z' }).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors).toEqual([{ field: 'occurred_at', message: expect.stringMatching(/^occurred_at must not be before the message was sent/) }]);
      const hourBefore = new Date(Date.now() - 3_600_000).toISOString();
      await t.http().post('/events').set(bearer).send({ ...EVENT, occurred_at: hourBefore }).expect(400);
      expect(await eventRows()).toBe(0);
    });

    it('accepts a time since the send, and allows the clock skew before it', async () => {
      const [{ sent_at: sentAt }] = await t.dataSource.query('SELECT sent_at FROM ai_messages WHERE id = $1', [messageId]);
      const slightlyBefore = new Date(sentAt.getTime() - 60_000).toISOString();
      await t.http().post('/events').set(bearer).send({ ...EVENT, occurred_at: slightlyBefore }).expect(201);
      expect(await eventRows()).toBe(1);
    });
  });
});
