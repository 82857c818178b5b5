import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DEMO } from '../src/database/demo-seed';
import { armOf, bucketOf, HOLDOUT } from '../src/experiments/experiment-hash';
import { FakeOpenAiServer } from './support/fake-openai.server';
import { insertCustomers } from './support/customers';
import { runSegment, startService, ServiceProcess } from './support/service-process';
import { SmtpSink, startSmtpSink } from './support/smtp-sink';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';
import { testRedisUrl } from './support/test-config';

const ROUTE = '/admin/smartengage/experiments';
const uniqueKey = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
const TWO_TONES = [
  { name: 'friendly', weight: 1, tone: 'friendly', generator: 'template' },
  { name: 'premium', weight: 1, tone: 'premium', generator: 'template' },
];

describe('experiments', () => {
  let t: TestApp;
  let smtp: SmtpSink;
  const llm = new FakeOpenAiServer();

  beforeAll(async () => {
    smtp = await startSmtpSink();
    await llm.start();
    t = await createTestApp({ SMTP_URL: smtp.url, OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: llm.baseUrl });
  });
  afterAll(async () => {
    await t.close();
    await llm.stop();
    await smtp.close();
  });
  beforeEach(async () => {
    await resetDatabase(t.dataSource);
    llm.reset();
  });

  const create = (body: object) => t.http().post(ROUTE).set(auth).send(body);
  const assignments = async (key: string): Promise<Map<string, { arm: string; assigned_at: Date }>> => {
    const rows: Array<{ customer_id: string; arm: string; assigned_at: Date }> = await t.dataSource.query(
      `SELECT a.customer_id, a.arm, a.assigned_at FROM experiment_assignments a JOIN experiments e ON e.id = a.experiment_id WHERE e.key = $1`,
      [key],
    );
    return new Map(rows.map((r) => [r.customer_id, { arm: r.arm, assigned_at: r.assigned_at }]));
  };

  describe('POST /admin/smartengage/experiments', () => {
    const body = () => ({ key: uniqueKey('tones'), holdout_percent: 10, variants: TWO_TONES });

    it('answers 401 without the admin key', async () => {
      await t.http().post(ROUTE).send(body()).expect(401);
    });

    it.each([
      [{ key: 'Not A Slug' }, 'key'],
      [{ key: 'a--b' }, 'key'],
      [{ holdout_percent: 60 }, 'holdout_percent'],
      [{ holdout_percent: 2.5 }, 'holdout_percent'],
      [{ holdout_percent: undefined }, 'holdout_percent'],
      [{ variants: [] }, 'variants'],
      [{ variants: [{ name: 'a', weight: 0 }] }, 'variants.0.weight'],
      [{ variants: [{ name: 'a', weight: 1, tone: 'loud' }] }, 'variants.0.tone'],
      [{ variants: [{ name: 'a', weight: 1, generator: 'gpt' }] }, 'variants.0.generator'],
      [{ variants: [{ name: 'holdout', weight: 1 }] }, 'variants.0.name'],
      [{ variants: [{ name: 'a', weight: 1 }, { name: 'a', weight: 2 }] }, 'variants.1.name'],
      [{ variants: [{ name: 'a', weight: 1, promo_code: 'NOPE99' }] }, 'variants.0.promo_code'],
      [{ attribution_days: 0 }, 'attribution_days'],
      [{ channel: 'fax' }, 'channel'],
    ])('answers 400 naming the bad field (%#)', async (change, field) => {
      const res = await create({ ...body(), ...change }).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('answers 409 when the key exists, and 201 with the experiment otherwise', async () => {
      const first = body();
      const created = await create({ ...first, variants: [...TWO_TONES, { name: 'offer', weight: 2, promo_code: 'vip20' }] }).expect(201);
      expect(created.body).toMatchObject({
        key: first.key,
        holdout_percent: 10,
        attribution_days: 7,
        channel: null,
        status: 'running',
        stopped_at: null,
        variants: [...TWO_TONES, { name: 'offer', weight: 2, promo_code: 'VIP20' }],
      });
      const again = await create(first).expect(409);
      expect(again.body.code).toBe('EXPERIMENT_EXISTS');
    });
  });

  describe('GET, stop and results', () => {
    it('answer 401 without the admin key', async () => {
      await t.http().get(ROUTE).expect(401);
      await t.http().get(`${ROUTE}/some-key`).expect(401);
      await t.http().post(`${ROUTE}/some-key/stop`).expect(401);
      await t.http().get(`${ROUTE}/some-key/results`).expect(401);
    });

    it('answer 400 for a key that is not a slug and 404 for an unknown one', async () => {
      for (const [method, path] of [['get', ''], ['post', '/stop'], ['get', '/results']] as const) {
        const bad = await t.http()[method](`${ROUTE}/Bad_Key${path}`).set(auth).expect(400);
        expect(bad.body.errors[0].field).toBe('key');
        const unknown = await t.http()[method](`${ROUTE}/no-such-experiment${path}`).set(auth).expect(404);
        expect(unknown.body.code).toBe('EXPERIMENT_NOT_FOUND');
      }
    });

    it('list and get it, stop it once, and a send naming a stopped experiment answers 409', async () => {
      const key = uniqueKey('stop');
      await create({ key, holdout_percent: 20, variants: TWO_TONES }).expect(201);
      const list = await t.http().get(ROUTE).set(auth).expect(200);
      expect(list.body.experiments.map((e: { key: string }) => e.key)).toContain(key);
      expect((await t.http().get(`${ROUTE}/${key}`).set(auth).expect(200)).body.status).toBe('running');

      const stopped = await t.http().post(`${ROUTE}/${key}/stop`).set(auth).expect(200);
      expect(stopped.body).toMatchObject({ status: 'stopped', stopped_at: expect.any(String) });
      const again = await t.http().post(`${ROUTE}/${key}/stop`).set(auth).expect(200);
      expect(again.body.stopped_at).toBe(stopped.body.stopped_at);

      const send = await t
        .http()
        .post('/admin/smartengage/send-bulk')
        .set(auth)
        .send({ customer_ids: [DEMO.customers.regular], message_type: 'reminder', experiment: key })
        .expect(409);
      expect(send.body.code).toBe('EXPERIMENT_STOPPED');
      const run = await t.http().post('/internal/ai/smartengage/run-segment').set(auth).send({ experiment: 'no-such-experiment' }).expect(404);
      expect(run.body.code).toBe('EXPERIMENT_NOT_FOUND');
      expect(Number((await t.dataSource.query('SELECT count(*) FROM ai_messages'))[0].count)).toBe(0);
      const results = await t.http().get(`${ROUTE}/${key}/results`).set(auth).expect(200);
      expect(results.body).toMatchObject({ key, status: 'stopped', srm_p_value: null, verdict: ['no customers assigned yet'] });
    });
  });

  it('holds the holdout out of send-bulk (no email, no row, no cap slot) and the variants change the message', async () => {
    const key = uniqueKey('bulk');
    await create({
      key,
      holdout_percent: 30,
      variants: [
        { name: 'offer', weight: 1, promo_code: 'VIP20' },
        { name: 'plain', weight: 1, generator: 'template', promo_code: null },
      ],
    }).expect(201);
    const ids = await insertCustomers(t.dataSource, { count: 300, daysAgo: 30, tag: `bulk-${key}` });
    const expected = new Map(ids.map((id) => [id, armOf(bucketOf(key, id), 30, [{ name: 'offer', weight: 1 }, { name: 'plain', weight: 1 }])]));
    const inArm = (arm: string) => ids.filter((id) => expected.get(id) === arm);
    const before = smtp.accepted();

    const res = await t
      .http()
      .post('/admin/smartengage/send-bulk')
      .set(auth)
      .send({ customer_ids: ids, message_type: 'reminder', promo_code: 'DEMO15', experiment: key, batch_size: 20 })
      .expect(200);

    const holdout = inArm(HOLDOUT);
    expect(holdout.length).toBeGreaterThan(50);
    expect(res.body).toMatchObject({ sent: ids.length - holdout.length, failed: 0, skipped: holdout.length });
    const skipped = res.body.results.filter((r: { success: boolean }) => !r.success);
    expect(new Set(skipped.map((r: { customer_id: string }) => r.customer_id))).toEqual(new Set(holdout));
    expect(skipped.every((r: { reason: string }) => r.reason === 'holdout')).toBe(true);

    // Every customer recorded once, in the arm the hash gives.
    const recorded = await assignments(key);
    expect(recorded.size).toBe(ids.length);
    for (const id of ids) expect(recorded.get(id)!.arm).toBe(expected.get(id));

    // The holdout: nothing at the SMTP server, no message row.
    expect(smtp.accepted() - before).toBe(ids.length - holdout.length);
    const emails: Array<{ email: string }> = await t.dataSource.query('SELECT email FROM users WHERE id = ANY($1)', [holdout]);
    const holdoutEmails = new Set(emails.map((row) => row.email));
    expect(holdoutEmails.size).toBe(holdout.length);
    expect(smtp.recipients().filter((address) => holdoutEmails.has(address))).toEqual([]);
    const rows: Array<{ user_id: string; promo_code: string | null; generator: string; message_text: string }> = await t.dataSource.query(
      'SELECT user_id, promo_code, generator, message_text FROM ai_messages WHERE user_id = ANY($1)',
      [ids],
    );
    expect(rows.filter((row) => expected.get(row.user_id) === HOLDOUT)).toEqual([]);

    // The offer variant's emails carry its code and discount (not the send's DEMO15); the plain one none, written
    // by the template: the LLM was asked once per offer email and never for a plain one.
    const offerRows = rows.filter((row) => expected.get(row.user_id) === 'offer');
    const plainRows = rows.filter((row) => expected.get(row.user_id) === 'plain');
    expect(offerRows).toHaveLength(inArm('offer').length);
    expect(offerRows.every((row) => row.promo_code === 'VIP20' && row.message_text.includes('VIP20') && row.message_text.includes('২০%'))).toBe(true);
    expect(offerRows.every((row) => row.generator === 'openai')).toBe(true);
    expect(plainRows).toHaveLength(inArm('plain').length);
    expect(plainRows.every((row) => row.promo_code === null && row.generator === 'template' && !row.message_text.includes('DEMO15'))).toBe(true);
    expect(llm.requests).toHaveLength(offerRows.length);

    // No cap slot: a held-out customer can still be messaged today; a messaged one is capped.
    const single = (customer_id: string) =>
      t.http().post('/admin/smartengage/send-single').set(auth).send({ customer_id, message_type: 'reminder' });
    await single(holdout[0]).expect(200);
    expect((await single(inArm('plain')[0]).expect(409)).body.code).toBe('FREQUENCY_CAPPED');

    // Bookings after the assignment convert; a cancelled one does not.
    const converters = [...holdout.slice(0, 3), ...inArm('offer').slice(0, 10)];
    await t.dataSource.query(
      `INSERT INTO bookings (customer_id, service_id, status, booked_at) SELECT id, $2, 'confirmed', now() FROM unnest($1::uuid[]) AS id`,
      [converters, DEMO.services.plumbing],
    );
    await t.dataSource.query(
      `INSERT INTO bookings (customer_id, service_id, status, booked_at) VALUES ($1, $2, 'cancelled', now())`,
      [inArm('plain')[1], DEMO.services.plumbing],
    );
    const results = await t.http().get(`${ROUTE}/${key}/results`).set(auth).expect(200);
    const arm = (name: string) => results.body.arms.find((a: { name: string }) => a.name === name);
    expect(arm(HOLDOUT)).toMatchObject({ assigned: holdout.length, converted: 3 });
    // The send-single to the held-out customer went out after the assignment: it shows as messaged.
    expect(arm(HOLDOUT).messaged).toBe(1);
    expect(arm('offer')).toMatchObject({ assigned: inArm('offer').length, messaged: inArm('offer').length, converted: 10 });
    expect(arm('plain')).toMatchObject({ assigned: inArm('plain').length, messaged: inArm('plain').length, converted: 0 });
    expect(arm('offer').conversion_rate).toBeCloseTo(10 / inArm('offer').length, 6);
    expect(arm('offer').absolute_uplift).toBeCloseTo(10 / inArm('offer').length - 3 / holdout.length, 6);
    expect(arm('offer').p_value).toEqual(expect.any(Number));
    expect(results.body.srm_warning).toBeNull();
    expect(results.body.best_variant).toBe('offer');
    expect(results.body.verdict).toEqual(expect.arrayContaining([expect.stringMatching(/^offer/), expect.stringMatching(/^plain/)]));
  });

  describe('over 10,000 customers', () => {
    let child: ServiceProcess | undefined;
    afterEach(async () => {
      await child?.stop();
      child = undefined;
    });

    it('splits by weight within 3 SD, the same arms in a second instance and after its restart', async () => {
      const key = uniqueKey('split');
      await create({ key, holdout_percent: 10, variants: TWO_TONES }).expect(201);
      const ids = await insertCustomers(t.dataSource, { count: 10_000, daysAgo: 30, tag: `split-${key}` });
      const run = await t
        .http()
        .post('/internal/ai/smartengage/run-segment')
        .set(auth)
        .send({ experiment: key, batch_size: 1000, send_window_start: 0, send_window_end: 24 })
        .expect(200);
      const all = [...ids, DEMO.customers.regular, DEMO.customers.vip, DEMO.customers.newcomer];
      const recorded = await assignments(key);
      expect(recorded.size).toBe(all.length);
      const counts = new Map<string, number>();
      for (const id of all) {
        const arm = recorded.get(id)!.arm;
        expect(arm).toBe(armOf(bucketOf(key, id), 10, TWO_TONES));
        counts.set(arm, (counts.get(arm) ?? 0) + 1);
      }
      const n = all.length;
      for (const [arm, share] of [[HOLDOUT, 0.1], ['friendly', 0.45], ['premium', 0.45]] as const) {
        expect(Math.abs(counts.get(arm)! - n * share)).toBeLessThanOrEqual(3 * Math.sqrt(n * share * (1 - share)));
      }
      expect(run.body).toMatchObject({ skipped: counts.get(HOLDOUT), sent: n - counts.get(HOLDOUT)! });
      const tones: Array<{ tone: string; n: number }> = await t.dataSource.query(
        `SELECT tone, count(*)::int AS n FROM ai_messages GROUP BY tone ORDER BY tone`,
      );
      expect(tones).toEqual([
        { tone: 'friendly', n: counts.get('friendly') },
        { tone: 'premium', n: counts.get('premium') },
      ]);
      const results = await t.http().get(`${ROUTE}/${key}/results`).set(auth).expect(200);
      expect(results.body.srm_p_value).toBeGreaterThan(0.001);
      expect(results.body.srm_warning).toBeNull();

      // A second instance (its own OS process) assigns a new experiment's customers with the same hash, and
      // after a restart neither changes an arm nor records anyone twice.
      const key2 = uniqueKey('replica');
      await create({ key: key2, holdout_percent: 25, variants: TWO_TONES }).expect(201);
      child = await startService();
      const sample = ids.slice(0, 1000);
      const bulk = async (service: ServiceProcess, customerIds: string[]) => {
        const res = await fetch(`${service.url}/admin/smartengage/send-bulk`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ customer_ids: customerIds, message_type: 'reminder', experiment: key2, bypass_frequency_caps: true, batch_size: 50 }),
        });
        expect(res.status).toBe(200);
        return (await res.json()) as { results: Array<{ customer_id: string; reason?: string }> };
      };
      const first = await bulk(child, sample.slice(0, 500));
      const recorded2 = await assignments(key2);
      expect(recorded2.size).toBe(500);
      for (const id of sample.slice(0, 500)) expect(recorded2.get(id)!.arm).toBe(armOf(bucketOf(key2, id), 25, TWO_TONES));
      const heldOut = (body: typeof first) => body.results.filter((r) => r.reason === 'holdout').map((r) => r.customer_id).sort();
      expect(heldOut(first)).toEqual(sample.slice(0, 500).filter((id) => recorded2.get(id)!.arm === HOLDOUT).sort());

      await child.stop();
      child = await startService();
      const second = await bulk(child, sample);
      const after = await assignments(key2);
      expect(after.size).toBe(1000);
      for (const id of sample) expect(after.get(id)!.arm).toBe(armOf(bucketOf(key2, id), 25, TWO_TONES));
      for (const [id, before] of recorded2) expect(after.get(id)!.assigned_at).toEqual(before.assigned_at);
      expect(heldOut(second)).toEqual(sample.filter((id) => after.get(id)!.arm === HOLDOUT).sort());
    }, 300_000);
  });

  /**
   * Queue mode: the API process assigns (in its fan-out, before any job is added) and two worker processes
   * deliver. Workers never assign, so their determinism is the producer's; this checks that the holdout gets no
   * job and that a variant's overrides travel in the job to whichever worker runs it.
   */
  describe('in queue mode', () => {
    const REDIS_URL = testRedisUrl();
    const prefix = `se-test-${randomUUID().slice(0, 8)}:`;
    const processes: ServiceProcess[] = [];
    afterAll(async () => {
      await Promise.all(processes.map((p) => p.stop()));
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    it('adds no job for the holdout, and the workers send each variant as it says', async () => {
      const key = uniqueKey('queue');
      const variants = [
        { name: 'premium', weight: 1, tone: 'premium', generator: 'template' },
        { name: 'offer', weight: 1, tone: 'friendly', generator: 'template', promo_code: 'WEEKEND20' },
      ];
      await create({ key, holdout_percent: 20, variants }).expect(201);
      const ids = await insertCustomers(t.dataSource, { count: 1000, daysAgo: 30, tag: `queue-${key}` });
      const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix, SMTP_URL: smtp.url };
      const started = await Promise.all([
        startService({ ...env, APP_ROLE: 'api' }),
        startService({ ...env, APP_ROLE: 'worker' }),
        startService({ ...env, APP_ROLE: 'worker' }),
      ]);
      processes.push(...started);
      const before = smtp.accepted();

      const res = await runSegment(started[0], { experiment: key, send_window_start: 0, send_window_end: 24, batch_size: 500 });
      expect(res.status).toBe(200);
      const all = [...ids, DEMO.customers.regular, DEMO.customers.vip, DEMO.customers.newcomer];
      const expected = new Map(all.map((id) => [id, armOf(bucketOf(key, id), 20, variants)]));
      const holdout = all.filter((id) => expected.get(id) === HOLDOUT);
      expect(res.body).toMatchObject({ status: 'DONE', sent: all.length - holdout.length, skipped: holdout.length, failed: 0 });
      const recorded = await assignments(key);
      for (const id of all) expect(recorded.get(id)!.arm).toBe(expected.get(id));

      expect(smtp.accepted() - before).toBe(all.length - holdout.length);
      const rows: Array<{ user_id: string; tone: string; promo_code: string | null }> = await t.dataSource.query(
        'SELECT user_id, tone, promo_code FROM ai_messages WHERE user_id = ANY($1)',
        [all],
      );
      expect(rows).toHaveLength(all.length - holdout.length);
      for (const row of rows) {
        const arm = expected.get(row.user_id);
        expect([arm, row.tone, row.promo_code]).toEqual(arm === 'premium' ? ['premium', 'premium', null] : ['offer', 'friendly', 'WEEKEND20']);
      }
      // Both workers took part.
      const sentBy = async (service: ServiceProcess) => {
        const text = await (await fetch(`${service.url}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('ai_delivery_attempts_total{') && l.includes('outcome="sent"') && l.includes('channel="EMAIL"'));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const shares = await Promise.all(started.slice(1).map(sentBy));
      expect(shares[0] + shares[1]).toBe(all.length - holdout.length);
      expect(Math.min(...shares)).toBeGreaterThan(0);
    }, 180_000);
  });
});
