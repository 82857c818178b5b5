import { JwtService } from '@nestjs/jwt';
import { DEMO } from '../src/database/demo-seed';
import { bookingToken, readOutboxMail } from './support/outbox';
import { auth, createTestApp, JWT_SECRET, resetDatabase, TestApp } from './support/test-app';

const ROUTE = '/admin/smartengage/send-single';
const jwt = new JwtService({ secret: JWT_SECRET });

describe('POST /admin/smartengage/send-single', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  beforeEach(() => resetDatabase(t.dataSource));

  const scenario1 = {
    customer_id: DEMO.customers.regular,
    message_type: 'reminder',
    service_id: DEMO.services.homeCleaning,
    promo_code: null,
    ttl_hours: 48,
  };
  const messageRows = () => t.dataSource.query('SELECT * FROM ai_messages ORDER BY created_at');

  it('rejects a request without a valid admin key', async () => {
    const missing = await t.http().post(ROUTE).send(scenario1).expect(401);
    expect(missing.body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
    expect(missing.body.correlationId).toEqual(expect.any(String));
    await t.http().post(ROUTE).set({ Authorization: 'Bearer wrong-key' }).send(scenario1).expect(401);
    expect(await messageRows()).toHaveLength(0);
  });

  it.each([
    [{ ...scenario1, customer_id: 'not-a-uuid' }, 'customer_id'],
    [{ ...scenario1, surprise: 1 }, 'surprise'],
    [{ ...scenario1, ttl_hours: 500 }, 'ttl_hours'],
    [{ ...scenario1, ttl_hours: 0 }, 'ttl_hours'],
    [{ ...scenario1, message_type: 'spam' }, 'message_type'],
    [{ ...scenario1, channel: 'pigeon' }, 'channel'],
  ])('answers 400 naming the bad field (%#)', async (body, field) => {
    const res = await t.http().post(ROUTE).set(auth).send(body).expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(res.body.message).toContain(field);
  });

  it('answers 400 to malformed JSON', async () => {
    const res = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"customer_id": ')
      .expect(400);
    expect(res.body.code).toBe('MALFORMED_JSON');
  });

  it('answers 400 to an unknown promo code and writes nothing', async () => {
    const res = await t.http().post(ROUTE).set(auth).send({ ...scenario1, promo_code: 'FAKE99' }).expect(400);
    expect(res.body).toMatchObject({ code: 'UNKNOWN_PROMO_CODE', errors: [{ field: 'promo_code' }] });
    expect(await messageRows()).toHaveLength(0);
  });

  it('answers 404 for an unknown customer or service', async () => {
    const customer = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({ ...scenario1, customer_id: '00000000-0000-4000-8000-000000000000' })
      .expect(404);
    expect(customer.body.code).toBe('CUSTOMER_NOT_FOUND');
    const service = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({ ...scenario1, service_id: '00000000-0000-4000-8000-000000000000' })
      .expect(404);
    expect(service.body.code).toBe('SERVICE_NOT_FOUND');
    expect(await messageRows()).toHaveLength(0);
  });

  it('scenario 1: a friendly reminder to the regular customer, without promo', async () => {
    const res = await t.http().post(ROUTE).set(auth).set('X-Correlation-ID', 'demo-correlation-0001').send(scenario1).expect(200);
    expect(res.body).toEqual({
      success: true,
      status: 'sent',
      message_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      customer_id: DEMO.customers.regular,
      correlation_id: 'demo-correlation-0001',
      channel: 'EMAIL',
      message: 'Reminder sent successfully',
    });

    const [row] = await messageRows();
    expect(row).toMatchObject({
      id: res.body.message_id,
      user_id: DEMO.customers.regular,
      delivery_status: 'sent',
      channel: 'EMAIL',
      message_type: 'REMINDER',
      tone: 'friendly',
      generator: 'template',
      promo_code: null,
      correlation_id: 'demo-correlation-0001',
      recipient: 'kamalnavid50@example.com',
    });

    const mail = await readOutboxMail(t.outboxDir, res.body.message_id);
    expect(mail.subject).toContain('হোম ক্লিনিং');
    expect(mail.subject).toMatch(/🏠$/);
    expect(mail.text).toContain('প্রিয় kamalnavid50,');
    expect(mail.text).toContain('২২ দিন');
    expect(mail.text).not.toMatch(/প্রোমো কোড|%/);
    expect(mail.text!.trim()).toBe(row.message_text.trim());
    const claims = jwt.verify(bookingToken(mail.text!), { audience: 'smartengage-booking' });
    expect(claims).toMatchObject({
      sub: DEMO.customers.regular,
      message_id: res.body.message_id,
      service_id: DEMO.services.homeCleaning,
      promo_code: null,
    });
    expect(claims.exp - claims.iat).toBe(48 * 3600);
  });

  it('scenario 2: a premium reminder with VIP20 and a 72-hour link to the VIP', async () => {
    const res = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({
        customer_id: DEMO.customers.vip,
        message_type: 'reminder',
        service_id: DEMO.services.plumbing,
        promo_code: 'VIP20',
        ttl_hours: 72,
      })
      .expect(200);
    expect(res.body).toMatchObject({ promo_code: 'VIP20', message: 'Reminder with promo sent successfully' });

    const [row] = await messageRows();
    expect(row).toMatchObject({ tone: 'premium', promo_code: 'VIP20', delivery_status: 'sent' });
    const mail = await readOutboxMail(t.outboxDir, res.body.message_id);
    expect(mail.subject).toContain('২০% ছাড়');
    expect(mail.subject).toMatch(/🔧$/);
    expect(mail.text).toContain('২১ দিন');
    expect(mail.text).toContain('প্রোমো কোড: VIP20');
    expect(mail.text).toContain('৭২ ঘণ্টা');
    expect(mail.text).toContain('&promo=VIP20');
    const claims = jwt.verify(bookingToken(mail.text!), { audience: 'smartengage-booking' });
    expect(claims).toMatchObject({ promo_code: 'VIP20', service_id: DEMO.services.plumbing });
    expect(claims.exp * 1000).toBeGreaterThan(Date.now() + 71.9 * 3_600_000);
    expect(claims.exp * 1000).toBeLessThanOrEqual(Date.now() + 72 * 3_600_000);
  });

  it('scenario 3: a welcoming reminder with WELCOME10 to the new customer', async () => {
    const res = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({
        customer_id: DEMO.customers.newcomer,
        message_type: 'reminder',
        service_id: DEMO.services.plumbing,
        promo_code: 'WELCOME10',
        ttl_hours: 48,
      })
      .expect(200);
    expect(res.body.promo_code).toBe('WELCOME10');
    const [row] = await messageRows();
    expect(row.tone).toBe('welcoming');
    const mail = await readOutboxMail(t.outboxDir, res.body.message_id);
    expect(mail.text).toContain('২৩ দিন');
    expect(mail.text).toContain('১০% ছাড়');
    expect(mail.text).toContain('প্রোমো কোড: WELCOME10');
  });

  it("defaults the service to the customer's last booking", async () => {
    const { service_id: _omitted, ...withoutService } = scenario1;
    await t.http().post(ROUTE).set(auth).send(withoutService).expect(200);
    const [row] = await messageRows();
    expect(row.service_id).toBe(DEMO.services.homeCleaning);
  });

  it('answers 409 once the frequency cap is reached, and keeps one message', async () => {
    await t.http().post(ROUTE).set(auth).send(scenario1).expect(200);
    const res = await t.http().post(ROUTE).set(auth).send(scenario1).expect(409);
    expect(res.body.code).toBe('FREQUENCY_CAPPED');
    expect(await messageRows()).toHaveLength(1);
  });

  it('lets only one of two concurrent sends to one customer through', async () => {
    const [a, b] = await Promise.all([
      t.http().post(ROUTE).set(auth).send(scenario1),
      t.http().post(ROUTE).set(auth).send(scenario1),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect(await messageRows()).toHaveLength(1);
  });

  it('answers 409 for an opted-out customer and writes nothing', async () => {
    await t.dataSource.query('UPDATE customers SET opted_out_at = now() WHERE id = $1', [DEMO.customers.regular]);
    const res = await t.http().post(ROUTE).set(auth).send(scenario1).expect(409);
    expect(res.body.code).toBe('CUSTOMER_OPTED_OUT');
    expect(await messageRows()).toHaveLength(0);
  });

  it("runs the guide's SQL verbatim", async () => {
    await t.http().post(ROUTE).set(auth).send(scenario1).expect(200);
    const sent = await t.dataSource.query(`SELECT
    m.id, u.name, u.email, m.message_type, m.channel, m.delivery_status, m.created_at,
    LEFT(m.message_text, 100) as preview
FROM ai_messages m
JOIN users u ON m.user_id = u.id
WHERE m.user_id IN (
    '229211b0-9cf4-4e36-b707-d593034bfb0f',
    '201df462-8e81-475b-9b9b-2a2946218312',
    '55a91395-0760-4c57-a7db-ad97f2256917'
)
ORDER BY m.created_at DESC;`);
    expect(sent).toEqual([expect.objectContaining({ name: 'kamalnavid50', delivery_status: 'sent', channel: 'EMAIL' })]);

    const profiles = await t.dataSource.query(
      "SELECT u.name, c.last_booking_at, COUNT(b.id) as bookings FROM users u JOIN customers c ON u.id = c.id LEFT JOIN bookings b ON u.id = b.customer_id WHERE u.id IN ('229211b0-9cf4-4e36-b707-d593034bfb0f', '201df462-8e81-475b-9b9b-2a2946218312', '55a91395-0760-4c57-a7db-ad97f2256917') GROUP BY u.id, u.name, c.last_booking_at;",
    );
    const counts = Object.fromEntries(profiles.map((p: { name: string; bookings: string }) => [p.name, Number(p.bookings)]));
    expect(counts).toEqual({ kamalnavid50: 2, navidkamal5688: 3, navidkamal568: 1 });
  });
});
