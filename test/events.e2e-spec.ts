import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { DEMO } from '../src/database/demo-seed';
import { DeepLinkService } from '../src/messaging/deep-link.service';
import { insertCustomers } from './support/customers';
import { bookingToken, readOutboxMail } from './support/outbox';
import { auth, BOOKING_BASE_URL, createTestApp, JWT_SECRET, resetDatabase, TestApp } from './support/test-app';

const SEND = '/admin/smartengage/send-single';
const EVENTS = '/events';
const STATS = '/admin/smartengage/stats';
const BOOKING = { audience: 'smartengage-booking', issuer: 'shoktiai-smartengage' };
const jwt = new JwtService({ secret: JWT_SECRET });

interface Sent {
  messageId: string;
  customerId: string;
  token: string;
  bearer: { Authorization: string };
}

describe('Events and tracking', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  beforeEach(() => resetDatabase(t.dataSource));

  /** Sends a real reminder and takes the booking token from the outbox email. */
  async function send(customerId: string = DEMO.customers.regular, extra: Record<string, unknown> = {}): Promise<Sent> {
    const res = await t
      .http()
      .post(SEND)
      .set(auth)
      .send({ customer_id: customerId, message_type: 'reminder', ttl_hours: 48, ...extra })
      .expect(200);
    const mail = await readOutboxMail(t.outboxDir, res.body.message_id);
    const token = bookingToken(mail.text!);
    return { messageId: res.body.message_id, customerId, token, bearer: { Authorization: `Bearer ${token}` } };
  }

  const eventRows = (messageId?: string) =>
    t.dataSource.query(
      `SELECT id, message_id, customer_id, event_type, source, occurred_at FROM message_events
        ${messageId ? 'WHERE message_id = $1' : ''} ORDER BY created_at`,
      messageId ? [messageId] : [],
    );
  const statusOf = async (messageId: string): Promise<string> =>
    (await t.dataSource.query('SELECT delivery_status FROM ai_messages WHERE id = $1', [messageId]))[0].delivery_status;
  const postEvent = (sent: Sent, body: Record<string, unknown>) => t.http().post(EVENTS).set(sent.bearer).send(body);
  /** The tracking links the service puts in a message (`/r/<code>`, `/o/<code>.gif`). */
  const clickPath = (messageId: string) => new URL(t.app.get(DeepLinkService).clickUrl(messageId)).pathname;
  const openPath = (messageId: string) => new URL(t.app.get(DeepLinkService).openPixelUrl(messageId)).pathname;
  /** How a message id used to be spelled as a link code. */
  const idAsCode = (messageId: string) => Buffer.from(messageId.replace(/-/g, ''), 'hex').toString('base64url');

  async function metricValue(eventType: string, source: string): Promise<number> {
    const { text } = await t.http().get('/metrics').expect(200);
    const match = new RegExp(`^ai_message_events_total\\{event_type="${eventType}",source="${source}"\\} (\\d+)$`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  }

  describe('POST /events', () => {
    it('answers 401 INVALID_TOKEN to a missing, forged, expired or foreign token and records nothing', async () => {
      const sent = await send();
      const claims = { sub: sent.customerId, message_id: sent.messageId, service_id: DEMO.services.homeCleaning, promo_code: null };
      const past = Math.floor(Date.now() / 1000) - 60;
      const [header, payload] = sent.token.split('.');
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
      const tokens = [
        new JwtService({ secret: 'not-the-secret-0123456789abcdef' }).sign(claims, BOOKING),
        jwt.sign({ ...claims, exp: past }, BOOKING),
        jwt.sign(claims, { ...BOOKING, expiresIn: -10 }),
        jwt.sign(claims, { audience: 'smartengage-unsubscribe', issuer: BOOKING.issuer }),
        jwt.sign(claims, { audience: BOOKING.audience, issuer: 'someone-else' }),
        `${header}.${payload}.${'A'.repeat(43)}`,
        unsigned,
        'not-a-jwt',
      ];

      const missing = await t.http().post(EVENTS).send({ event_type: 'message_opened', source: 'email' }).expect(401);
      expect(missing.body).toMatchObject({ statusCode: 401, code: 'INVALID_TOKEN', correlationId: expect.any(String) });
      for (const token of tokens) {
        const res = await t
          .http()
          .post(EVENTS)
          .set({ Authorization: `Bearer ${token}` })
          .send({ event_type: 'message_opened', source: 'email' });
        expect({ token, status: res.status, code: res.body.code }).toEqual({ token, status: 401, code: 'INVALID_TOKEN' });
      }
      expect(await eventRows()).toHaveLength(0);
      expect(await statusOf(sent.messageId)).toBe('sent');
    });

    it("answers 401 when the token's message does not exist or belongs to another customer", async () => {
      const sent = await send();
      const base = { service_id: DEMO.services.homeCleaning, promo_code: null };
      for (const claims of [
        { ...base, sub: DEMO.customers.vip, message_id: sent.messageId },
        { ...base, sub: sent.customerId, message_id: randomUUID() },
        { ...base, sub: sent.customerId, message_id: 'not-a-uuid' },
      ]) {
        const res = await t
          .http()
          .post(EVENTS)
          .set({ Authorization: `Bearer ${jwt.sign(claims, BOOKING)}` })
          .send({ event_type: 'message_clicked', source: 'email' })
          .expect(401);
        expect(res.body.code).toBe('INVALID_TOKEN');
      }
      expect(await eventRows()).toHaveLength(0);
    });

    it('answers 403 INSUFFICIENT_SCOPE when a click token or one without a scope records a booking or an opt-out', async () => {
      const sent = await send();
      const claims = { sub: sent.customerId, message_id: sent.messageId, service_id: DEMO.services.homeCleaning, promo_code: null };
      // Tokens signed before scopes existed carry none; they may have come from a redirect, so they count as clicks.
      const tokens = [claims, { ...claims, scope: 'click' }, { ...claims, scope: 'admin' }].map((c) => jwt.sign(c, BOOKING));
      for (const token of tokens) {
        const post = (eventType: string) =>
          t.http().post(EVENTS).set({ Authorization: `Bearer ${token}` }).send({ event_type: eventType, source: 'email' });
        for (const eventType of ['booking_completed', 'unsubscribed']) {
          const res = await post(eventType);
          expect({ status: res.status, code: res.body.code }).toEqual({ status: 403, code: 'INSUFFICIENT_SCOPE' });
        }
        await post('booking_started').expect(201);
      }
      expect((await eventRows()).map((row: { event_type: string }) => row.event_type)).toEqual(Array(3).fill('booking_started'));
      const [customer] = await t.dataSource.query('SELECT opted_out_at FROM customers WHERE id = $1', [sent.customerId]);
      expect(customer.opted_out_at).toBeNull();
      expect(await statusOf(sent.messageId)).toBe('clicked');
      // The booking token of the email's link may do both.
      expect(jwt.verify(sent.token, BOOKING).scope).toBe('booking');
      await postEvent(sent, { event_type: 'booking_completed', source: 'email' }).expect(201);
      await postEvent(sent, { event_type: 'unsubscribed', source: 'email' }).expect(201);
    });

    it.each([
      [{ event_type: 'message_forwarded', source: 'email' }, 'event_type'],
      [{ source: 'email' }, 'event_type'],
      [{ event_type: 'message_opened', source: 'pigeon' }, 'source'],
      [{ event_type: 'message_opened' }, 'source'],
      [{ event_type: 'message_opened', source: 'email', occurred_at: 'yesterday' }, 'occurred_at'],
      [{ event_type: 'message_opened', source: 'email', occurred_at: '2025-11-26' }, 'occurred_at'],
      [{ event_type: 'message_opened', source: 'email', occurred_at: '2025-11-26T10:15:00' }, 'occurred_at'],
      [{ event_type: 'message_opened', source: 'email', occurred_at: '2025-13-26T10:15:00Z' }, 'occurred_at'],
      [{ event_type: 'message_opened', source: 'email', occurred_at: 1764152100000 }, 'occurred_at'],
      [{ event_type: 'message_opened', source: 'email', surprise: 1 }, 'surprise'],
    ])('answers 400 naming the bad field (%#)', async (body, field) => {
      const sent = await send();
      const res = await postEvent(sent, body).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(res.body.message).toContain(field);
      expect(await eventRows()).toHaveLength(0);
    });

    it('answers 400 to an occurred_at more than 5 minutes in the future, and accepts one 4 minutes ahead', async () => {
      const sent = await send();
      const ahead = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
      const res = await postEvent(sent, { event_type: 'message_opened', source: 'email', occurred_at: ahead(10) }).expect(400);
      expect(res.body.errors).toEqual([{ field: 'occurred_at', message: 'occurred_at must not be more than 5 minutes in the future' }]);
      await postEvent(sent, { event_type: 'message_opened', source: 'email', occurred_at: ahead(4) }).expect(201);
    });

    it('answers 201 with the stored event, defaulting occurred_at to now', async () => {
      const sent = await send();
      const before = Date.now();
      const res = await postEvent(sent, { event_type: 'message_opened', source: 'email' }).expect(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        message_id: sent.messageId,
        customer_id: DEMO.customers.regular,
        event_type: 'message_opened',
        source: 'email',
        occurred_at: expect.any(String),
        duplicate: false,
      });
      const occurredAt = Date.parse(res.body.occurred_at);
      expect(occurredAt).toBeGreaterThanOrEqual(before - 5);
      expect(occurredAt).toBeLessThanOrEqual(Date.now() + 5);
      const [row] = await eventRows();
      expect(row).toMatchObject({ id: res.body.id, message_id: sent.messageId, customer_id: sent.customerId, source: 'email' });
      expect(row.occurred_at.toISOString()).toBe(res.body.occurred_at);
    });

    it('stores the same event once: the repeat answers 200 with duplicate true and is not counted', async () => {
      const sent = await send();
      // A whole second a minute ago, written in Dhaka time and again in UTC: the same instant.
      const instant = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
      const dhaka = `${new Date(instant.getTime() + 6 * 3_600_000).toISOString().slice(0, 19)}+06:00`;
      const body = { event_type: 'booking_started', source: 'sms', occurred_at: dhaka };
      const first = await postEvent(sent, body).expect(201);
      expect(first.body).toMatchObject({ occurred_at: instant.toISOString(), duplicate: false });
      const counted = await metricValue('booking_started', 'sms');
      expect(counted).toBeGreaterThanOrEqual(1);

      const again = await postEvent(sent, { ...body, occurred_at: instant.toISOString() }).expect(200);
      expect(again.body).toEqual({ ...first.body, duplicate: true });
      const [concurrentA, concurrentB] = await Promise.all([postEvent(sent, body), postEvent(sent, body)]);
      expect([concurrentA.status, concurrentB.status]).toEqual([200, 200]);

      expect(await eventRows(sent.messageId)).toHaveLength(1);
      expect(await metricValue('booking_started', 'sms')).toBe(counted);
      // Another instant is another event.
      await postEvent(sent, { ...body, occurred_at: new Date(instant.getTime() + 1000).toISOString() }).expect(201);
      expect(await eventRows(sent.messageId)).toHaveLength(2);
    });

    it('moves delivery_status forward only: sent → opened → clicked, and an open after the click keeps clicked', async () => {
      const sent = await send();
      expect(await statusOf(sent.messageId)).toBe('sent');
      // Seconds into the current minute, so the repeated open and click below fall into one minute.
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      const event = (event_type: string, second: number) => ({ event_type, source: 'email', occurred_at: new Date(minute + second * 1000).toISOString() });
      await postEvent(sent, event('message_opened', 1)).expect(201);
      expect(await statusOf(sent.messageId)).toBe('opened');
      await postEvent(sent, event('message_clicked', 2)).expect(201);
      expect(await statusOf(sent.messageId)).toBe('clicked');
      // Opens and clicks are stored once a minute: these repeats answer 200 with the stored event.
      await postEvent(sent, event('message_opened', 3)).expect(200);
      await postEvent(sent, event('booking_started', 4)).expect(201);
      expect(await statusOf(sent.messageId)).toBe('clicked');
      await postEvent(sent, event('booking_completed', 5)).expect(201);
      expect(await statusOf(sent.messageId)).toBe('booked');
      await postEvent(sent, event('message_clicked', 6)).expect(200);
      expect(await statusOf(sent.messageId)).toBe('booked');
      expect(await eventRows(sent.messageId)).toHaveLength(4);
    });

    it('booking_started lifts a merely sent message to clicked; booking_completed marks it booked', async () => {
      const sent = await send();
      await postEvent(sent, { event_type: 'booking_started', source: 'email' }).expect(201);
      expect(await statusOf(sent.messageId)).toBe('clicked');
      await postEvent(sent, { event_type: 'booking_completed', source: 'email' }).expect(201);
      expect(await statusOf(sent.messageId)).toBe('booked');
    });

    it('leaves a failed message failed, but records the event', async () => {
      const sent = await send();
      await t.dataSource.query(`UPDATE ai_messages SET delivery_status = 'failed' WHERE id = $1`, [sent.messageId]);
      await postEvent(sent, { event_type: 'message_clicked', source: 'email' }).expect(201);
      await postEvent(sent, { event_type: 'unsubscribed', source: 'email' }).expect(201);
      expect(await statusOf(sent.messageId)).toBe('failed');
      expect(await eventRows(sent.messageId)).toHaveLength(2);
    });

    it('unsubscribed marks the message, opts the customer out, and a later send is 409 CUSTOMER_OPTED_OUT', async () => {
      const sent = await send();
      const before = await metricValue('unsubscribed', 'email');
      await postEvent(sent, { event_type: 'unsubscribed', source: 'email' }).expect(201);
      expect(await metricValue('unsubscribed', 'email')).toBe(before + 1);
      expect(await statusOf(sent.messageId)).toBe('unsubscribed');
      const [customer] = await t.dataSource.query('SELECT opted_out_at, opt_out_source FROM customers WHERE id = $1', [
        sent.customerId,
      ]);
      expect(customer.opted_out_at).toBeInstanceOf(Date);
      expect(customer.opt_out_source).toBe('event');
      // Later engagement does not resurrect the status.
      await postEvent(sent, { event_type: 'message_opened', source: 'email' }).expect(201);
      expect(await statusOf(sent.messageId)).toBe('unsubscribed');

      const res = await t
        .http()
        .post(SEND)
        .set(auth)
        .send({ customer_id: sent.customerId, message_type: 'reminder' })
        .expect(409);
      expect(res.body.code).toBe('CUSTOMER_OPTED_OUT');
    });

    it('counts new events in ai_message_events_total by event_type and source', async () => {
      const sent = await send();
      const opened = await metricValue('message_opened', 'email');
      const completed = await metricValue('booking_completed', 'sms');
      await postEvent(sent, { event_type: 'message_opened', source: 'email' }).expect(201);
      const earlier = new Date(Date.now() - 60_000).toISOString();
      await postEvent(sent, { event_type: 'booking_completed', source: 'sms', occurred_at: earlier }).expect(201);
      await postEvent(sent, { event_type: 'booking_completed', source: 'sms', occurred_at: earlier }).expect(200);
      expect(await metricValue('message_opened', 'email')).toBe(opened + 1);
      expect(await metricValue('booking_completed', 'sms')).toBe(completed + 1);
      const { text } = await t.http().get('/metrics').expect(200);
      expect(text).toContain('# TYPE ai_message_events_total counter');
      // Series exist from the start only for pairs that can occur: 5 × 2 reported, machine opens by email, STOP replies.
      const series = [...text.matchAll(/^ai_message_events_total\{event_type="(\w+)",source="(\w+)"\}/gm)].map(([, type, source]) => `${type}/${source}`);
      expect(series).toHaveLength(12);
      expect(series).toEqual(expect.arrayContaining(['machine_open/email', 'unsubscribed/sms_reply']));
      expect(series).not.toContain('machine_open/sms');
      expect(series).not.toContain('message_clicked/sms_reply');
    });
  });

  describe('GET /r/:code', () => {
    it('answers 404 JSON for an unknown or malformed code and records nothing', async () => {
      const sent = await send();
      const pixelCode = openPath(sent.messageId).slice('/o/'.length, -'.gif'.length);
      for (const path of [clickPath(randomUUID()), '/r/nope', `/r/${'A'.repeat(21)}B`, `/r/${idAsCode(sent.messageId)}`, `/r/${pixelCode}`]) {
        const res = await t.http().get(path).expect(404).expect('Content-Type', /application\/json/);
        expect(res.body).toMatchObject({ statusCode: 404, code: 'MESSAGE_NOT_FOUND' });
      }
      expect(await eventRows()).toHaveLength(0);
    });

    it('records the click and redirects 302 to the booking page with a fresh click token carrying the same claims', async () => {
      const sent = await send();
      const original = jwt.verify(sent.token, BOOKING);
      const before = await metricValue('message_clicked', 'email');

      const res = await t.http().get(clickPath(sent.messageId)).redirects(0).expect(302);
      expect(res.headers['cache-control']).toBe('no-store');
      const location = new URL(res.headers.location);
      expect(`${location.origin}${location.pathname}`).toBe(BOOKING_BASE_URL);
      expect(res.headers.location).toMatch(/^https:\/\/app\.sheba\.xyz\/book\?token=/);
      expect(location.searchParams.get('promo')).toBeNull();
      const claims = jwt.verify(location.searchParams.get('token')!, { ...BOOKING, algorithms: ['HS256'] });
      expect(claims).toMatchObject({
        sub: original.sub,
        message_id: original.message_id,
        service_id: original.service_id,
        promo_code: original.promo_code,
        scope: 'click',
      });
      expect(original.scope).toBe('booking');
      const [message] = await t.dataSource.query('SELECT link_expires_at FROM ai_messages WHERE id = $1', [sent.messageId]);
      expect(claims.exp).toBe(Math.floor(message.link_expires_at.getTime() / 1000));

      const rows = await eventRows(sent.messageId);
      expect(rows).toEqual([expect.objectContaining({ event_type: 'message_clicked', source: 'email', customer_id: sent.customerId })]);
      expect(await statusOf(sent.messageId)).toBe('clicked');
      expect(await metricValue('message_clicked', 'email')).toBe(before + 1);
    });

    it('keeps the promo code in the link and records an SMS message as source sms', async () => {
      const sent = await send(DEMO.customers.vip, { service_id: DEMO.services.plumbing, promo_code: 'VIP20' });
      await t.dataSource.query(`UPDATE ai_messages SET channel = 'SMS' WHERE id = $1`, [sent.messageId]);
      const res = await t.http().get(clickPath(sent.messageId)).redirects(0).expect(302);
      const location = new URL(res.headers.location);
      expect(location.searchParams.get('promo')).toBe('VIP20');
      expect(jwt.verify(location.searchParams.get('token')!, BOOKING)).toMatchObject({ promo_code: 'VIP20' });
      expect(await eventRows(sent.messageId)).toEqual([expect.objectContaining({ event_type: 'message_clicked', source: 'sms' })]);
    });

    it('redirects an expired link to the booking page without a token, keeping the promo', async () => {
      const sent = await send(DEMO.customers.vip, { service_id: DEMO.services.plumbing, promo_code: 'VIP20' });
      await t.dataSource.query(`UPDATE ai_messages SET link_expires_at = now() - interval '1 hour' WHERE id = $1`, [
        sent.messageId,
      ]);
      const res = await t.http().get(clickPath(sent.messageId)).redirects(0).expect(302);
      expect(res.headers.location).toBe(`${BOOKING_BASE_URL}?promo=VIP20`);
      expect(await eventRows(sent.messageId)).toHaveLength(1);
    });
  });

  describe('GET /o/:code.gif', () => {
    it('records message_opened and answers a 1×1 transparent GIF that is not cached', async () => {
      const sent = await send();
      const res = await t.http().get(openPath(sent.messageId)).buffer(true).expect(200);
      expect(res.headers['content-type']).toBe('image/gif');
      expect(res.headers['cache-control']).toBe('no-store');
      const gif = res.body as Buffer;
      expect(gif.subarray(0, 6).toString('latin1')).toBe('GIF89a');
      expect(gif.readUInt16LE(6)).toBe(1);
      expect(gif.readUInt16LE(8)).toBe(1);
      expect(await eventRows(sent.messageId)).toEqual([expect.objectContaining({ event_type: 'message_opened', source: 'email' })]);
      expect(await statusOf(sent.messageId)).toBe('opened');
    });

    it('also accepts the code without .gif', async () => {
      const sent = await send();
      await t.http().get(openPath(sent.messageId).replace(/\.gif$/, '')).expect(200).expect('Content-Type', 'image/gif');
      expect(await eventRows(sent.messageId)).toHaveLength(1);
    });

    it('serves the same GIF for an unknown or malformed code and records nothing', async () => {
      const sent = await send();
      const clickCode = clickPath(sent.messageId).slice('/r/'.length);
      for (const path of [openPath(randomUUID()), '/o/nope.gif', `/o/${idAsCode(sent.messageId)}.gif`, `/o/${clickCode}.gif`]) {
        const res = await t.http().get(path).buffer(true).expect(200);
        expect(res.headers['content-type']).toBe('image/gif');
        expect((res.body as Buffer).subarray(0, 6).toString('latin1')).toBe('GIF89a');
      }
      expect(await eventRows()).toHaveLength(0);
    });
  });

  describe('opens fetched by mail proxies', () => {
    const APPLE_PREFETCH = 'Mozilla/5.0';
    const GOOGLE_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
    const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148';

    it('a proxy fetch right after the send is a machine_open; the stats show it apart from readers\' opens', async () => {
      const apple = await send(DEMO.customers.regular);
      const gmail = await send(DEMO.customers.vip);
      const reader = await send(DEMO.customers.newcomer);
      const open = (sent: Sent, agent: string) =>
        t.http().get(openPath(sent.messageId)).set('User-Agent', agent).expect(200).expect('Content-Type', 'image/gif');
      // Its process died before the mail server answered: the prefetch proves it arrived.
      await t.dataSource.query(`UPDATE ai_messages SET delivery_status = 'unknown' WHERE id = $1`, [apple.messageId]);
      await open(apple, APPLE_PREFETCH);
      await open(gmail, GOOGLE_PROXY);
      await open(reader, IPHONE);

      const typesOf = async (sent: Sent) => (await eventRows(sent.messageId)).map((row: { event_type: string }) => row.event_type);
      expect(await typesOf(apple)).toEqual(['machine_open']);
      expect(await typesOf(gmail)).toEqual(['machine_open']);
      expect(await typesOf(reader)).toEqual(['message_opened']);
      expect([await statusOf(apple.messageId), await statusOf(gmail.messageId), await statusOf(reader.messageId)]).toEqual([
        'sent',
        'sent',
        'opened',
      ]);

      // Long after the send, Gmail's proxy fetches because the reader opened the message.
      await t.dataSource.query(`UPDATE ai_messages SET sent_at = sent_at - interval '10 minutes' WHERE id = $1`, [gmail.messageId]);
      await open(gmail, GOOGLE_PROXY);
      expect(await typesOf(gmail)).toEqual(['machine_open', 'message_opened']);
      expect(await statusOf(gmail.messageId)).toBe('opened');

      const res = await t.http().get(STATS).set(auth).expect(200);
      const opens = res.body.groups.map((group: Record<string, unknown>) => [group.tone, group.opened, group.machine_opened]);
      expect(opens).toEqual([
        ['friendly', 0, 1],
        ['premium', 1, 0],
        ['welcoming', 1, 0],
      ]);
    });

    it('POST /events cannot report machine opens or SMS replies: the service records those itself', async () => {
      const sent = await send();
      for (const [body, field] of [
        [{ event_type: 'machine_open', source: 'email' }, 'event_type'],
        [{ event_type: 'unsubscribed', source: 'sms_reply' }, 'source'],
      ] as const) {
        const res = await postEvent(sent, body).expect(400);
        expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual([field]);
      }
      expect(await eventRows()).toEqual([]);
    });
  });

  describe('GET /admin/smartengage/stats', () => {
    it('answers 401 without a valid admin key', async () => {
      const res = await t.http().get(STATS).expect(401);
      expect(res.body.code).toBe('UNAUTHORIZED');
      await t.http().get(STATS).set({ Authorization: 'Bearer wrong-key' }).expect(401);
    });

    it.each([
      ['from=2025-12-01T00:00:00Z&to=2025-11-01T00:00:00Z', 'from'],
      ['from=2025-11-01&to=2025-11-01', 'from'],
      ['from=last-week', 'from'],
      ['to=2025-13-01', 'to'],
      ['period=7d', 'period'],
    ])('answers 400 naming the bad field (%s)', async (query, field) => {
      const res = await t.http().get(`${STATS}?${query}`).set(auth).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('answers an empty list for a period without messages', async () => {
      await send();
      const res = await t.http().get(`${STATS}?from=2020-01-01&to=2020-02-01`).set(auth).expect(200);
      expect(res.body).toEqual({ from: '2020-01-01T00:00:00.000Z', to: '2020-02-01T00:00:00.000Z', groups: [] });
    });

    it('counts sent, clicked, booked (within 7 days after the message) and unknown per type, tone, promo and channel', async () => {
      const regular = await send(DEMO.customers.regular, { service_id: DEMO.services.homeCleaning });
      await send(DEMO.customers.vip, { service_id: DEMO.services.plumbing, promo_code: 'VIP20' });
      const welcome = { service_id: DEMO.services.plumbing, promo_code: 'WELCOME10' };
      const [first, second, failed, unknown] = await insertCustomers(t.dataSource, { count: 4, daysAgo: 30, tag: 'stats' });
      const newcomers = [
        await send(DEMO.customers.newcomer, welcome),
        await send(first, welcome),
        await send(second, welcome),
        await send(failed, welcome),
        await send(unknown, welcome),
      ];
      await t.dataSource.query(`UPDATE ai_messages SET delivery_status = 'failed' WHERE user_id = $1`, [failed]);
      // Handed over by a process that died before the mail server answered; its customer booked, which it cannot claim.
      await t.dataSource.query(`UPDATE ai_messages SET delivery_status = 'unknown' WHERE user_id = $1`, [unknown]);

      // One click on the regular customer's message (twice: still one clicked message).
      await t.http().get(clickPath(regular.messageId)).redirects(0).expect(302);
      await t.http().get(clickPath(regular.messageId)).redirects(0).expect(302);
      // Bookings: one conversion, one cancelled (not counted), one too late (not counted), one by the failed message's customer.
      await t.dataSource.query(
        `INSERT INTO bookings (customer_id, service_id, status, booked_at) VALUES
           ($1, $4, 'confirmed', now()),
           ($2, $4, 'cancelled', now()),
           ($3, $4, 'pending', now() + interval '8 days'),
           ($5, $4, 'confirmed', now())`,
        [DEMO.customers.vip, DEMO.customers.newcomer, newcomers[1].customerId, DEMO.services.plumbing, failed],
      );
      await t.dataSource.query(
        `INSERT INTO bookings (customer_id, service_id, status, booked_at) VALUES ($1, $3, 'confirmed', now()), ($2, $3, 'confirmed', now())`,
        [newcomers[2].customerId, unknown, DEMO.services.plumbing],
      );

      const res = await t.http().get(STATS).set(auth).expect(200);
      expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(30 * 86_400_000);
      expect(res.body.groups).toEqual([
        {
          message_type: 'REMINDER',
          tone: 'friendly',
          promo_code: null,
          channel: 'EMAIL',
          sent: 1,
          opened: 0,
          machine_opened: 0,
          clicked: 1,
          booked: 0,
          unknown: 0,
          conversion_rate: 0,
        },
        {
          message_type: 'REMINDER',
          tone: 'premium',
          promo_code: 'VIP20',
          channel: 'EMAIL',
          sent: 1,
          opened: 0,
          machine_opened: 0,
          clicked: 0,
          booked: 1,
          unknown: 0,
          conversion_rate: 1,
        },
        {
          message_type: 'REMINDER',
          tone: 'welcoming',
          promo_code: 'WELCOME10',
          channel: 'EMAIL',
          sent: 3,
          opened: 0,
          machine_opened: 0,
          clicked: 0,
          booked: 1,
          unknown: 1,
          conversion_rate: 0.3333,
        },
      ]);

      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 3_600_000).toISOString();
      const windowed = await t.http().get(STATS).query({ from, to }).set(auth).expect(200);
      expect(windowed.body).toMatchObject({ from, to });
      expect(windowed.body.groups).toHaveLength(3);
      const later = await t.http().get(STATS).query({ from: to }).set(auth).expect(400);
      expect(later.body.errors).toEqual([{ field: 'from', message: 'from must be before to' }]);
    });
  });
});
