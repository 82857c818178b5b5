import { DEMO } from '../src/database/demo-seed';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

const ROUTE = '/admin/smartengage/send-bulk';
const ALL = [DEMO.customers.regular, DEMO.customers.vip, DEMO.customers.newcomer];

describe('POST /admin/smartengage/send-bulk', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  beforeEach(() => resetDatabase(t.dataSource));

  const guideBody = { customer_ids: ALL, message_type: 'reminder', promo_code: 'DEMO15', bypass_frequency_caps: true };
  const countMessages = async () => Number((await t.dataSource.query('SELECT count(*) FROM ai_messages'))[0].count);

  it('rejects a request without a valid admin key', async () => {
    await t.http().post(ROUTE).send(guideBody).expect(401);
    expect(await countMessages()).toBe(0);
  });

  it.each([
    [{ ...guideBody, customer_ids: [] }, 'customer_ids'],
    [{ ...guideBody, customer_ids: [ALL[0], ALL[0]] }, 'customer_ids'],
    [{ ...guideBody, customer_ids: ['nope'] }, 'customer_ids'],
    [{ ...guideBody, batch_size: 0 }, 'batch_size'],
    [{ ...guideBody, booking_cadence_days: 'often' }, 'booking_cadence_days'],
    [{ ...guideBody, bypass_frequency_caps: 'yes' }, 'bypass_frequency_caps'],
  ])('answers 400 naming the bad field (%#)', async (body, field) => {
    const res = await t.http().post(ROUTE).set(auth).send(body).expect(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(await countMessages()).toBe(0);
  });

  it('answers 404 for an unknown service and 400 for an unknown promo code, sending nothing', async () => {
    const service = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({ ...guideBody, service_id: '00000000-0000-4000-8000-000000000000' })
      .expect(404);
    expect(service.body.code).toBe('SERVICE_NOT_FOUND');
    await t.http().post(ROUTE).set(auth).send({ ...guideBody, promo_code: 'NOPE10' }).expect(400);
    expect(await countMessages()).toBe(0);
  });

  it("sends the guide's bulk campaign, then skips everyone as capped without the bypass", async () => {
    const first = await t.http().post(ROUTE).set(auth).send(guideBody).expect(200);
    expect(first.body).toMatchObject({ status: 'completed', total_eligible: 3, sent: 3, failed: 0, skipped: 0 });
    expect(first.body.results.map((r: { customer_id: string }) => r.customer_id)).toEqual(ALL);
    expect(first.body.results.every((r: { success: boolean; message_id: string }) => r.success && r.message_id)).toBe(true);
    expect(first.body.duration_seconds).toEqual(expect.any(Number));

    const rows = await t.dataSource.query('SELECT DISTINCT correlation_id, promo_code, tone FROM ai_messages ORDER BY tone');
    expect(rows).toEqual([
      { correlation_id: first.body.correlation_id, promo_code: 'DEMO15', tone: 'friendly' },
      { correlation_id: first.body.correlation_id, promo_code: 'DEMO15', tone: 'premium' },
      { correlation_id: first.body.correlation_id, promo_code: 'DEMO15', tone: 'welcoming' },
    ]);

    const second = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({ ...guideBody, bypass_frequency_caps: false })
      .expect(200);
    expect(second.body).toMatchObject({ total_eligible: 3, sent: 0, failed: 0, skipped: 3 });
    expect(second.body.results.map((r: { reason: string }) => r.reason)).toEqual([
      'frequency_capped',
      'frequency_capped',
      'frequency_capped',
    ]);
    expect(await countMessages()).toBe(3);
  });

  it('accepts ids in upper case', async () => {
    const res = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({ ...guideBody, customer_ids: [DEMO.customers.vip.toUpperCase()] })
      .expect(200);
    expect(res.body).toMatchObject({ total_eligible: 1, sent: 1 });
    expect(res.body.results[0].customer_id).toBe(DEMO.customers.vip);
  });

  it('never bypasses an opt-out, and reports unknown and not-yet-due customers', async () => {
    await t.dataSource.query('UPDATE customers SET opted_out_at = now() WHERE id = $1', [DEMO.customers.vip]);
    const unknown = '00000000-0000-4000-8000-0000000000aa';
    const res = await t
      .http()
      .post(ROUTE)
      .set(auth)
      .send({ ...guideBody, customer_ids: [...ALL, unknown], booking_cadence_days: 22, batch_size: 2 })
      .expect(200);
    const reasons = Object.fromEntries(
      res.body.results.map((r: { customer_id: string; reason?: string }) => [r.customer_id, r.reason ?? 'sent']),
    );
    expect(reasons).toEqual({
      [DEMO.customers.regular]: 'sent',
      [DEMO.customers.vip]: 'not_due',
      [DEMO.customers.newcomer]: 'sent',
      [unknown]: 'customer_not_found',
    });
    expect(res.body).toMatchObject({ total_eligible: 2, sent: 2, skipped: 2 });

    const optedOut = await t.http().post(ROUTE).set(auth).send({ ...guideBody, customer_ids: [DEMO.customers.vip] }).expect(200);
    expect(optedOut.body.results[0]).toEqual({ customer_id: DEMO.customers.vip, success: false, reason: 'opted_out' });
  });
});
