import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { DEMO } from '../src/database/demo-seed';
import {
  AiMessageRepository,
  ClaimRequest,
  DraftRecord,
  INTERRUPTED_BEFORE_SENDING,
  INTERRUPTED_WHILE_SENDING,
} from '../src/messaging/ai-message.repository';
import { DeliveryStatus } from '../src/messaging/delivery-status';
import { Channel, GeneratorKind, MessageType, Tone } from '../src/messaging/message.types';
import { insertCustomers } from './support/customers';
import { createTestApp, resetDatabase, TestApp } from './support/test-app';

/**
 * Claims, sending marks and attempt records are grouped into shared statements under load; each caller still
 * gets its own answer. Interrupted messages are settled by state.
 */
describe('batched message writes (real Postgres)', () => {
  let t: TestApp;
  let messages: AiMessageRepository;
  let pool: Pool;

  beforeAll(async () => {
    t = await createTestApp();
    messages = t.app.get(AiMessageRepository);
    pool = (t.dataSource.driver as PostgresDriver).master as Pool;
  });
  afterAll(() => t.close());
  beforeEach(() => resetDatabase(t.dataSource));
  afterEach(() => jest.restoreAllMocks());

  const claimFor = (userId: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
    id: randomUUID(),
    userId,
    messageType: MessageType.Reminder,
    channel: Channel.Email,
    recipient: `${userId}@example.com`,
    serviceId: DEMO.services.plumbing,
    promoCode: null,
    tone: Tone.Friendly,
    correlationId: 'batch-test',
    linkExpiresAt: new Date(Date.now() + 86_400_000),
    bypassFrequencyCap: false,
    frequencyCap: { maxMessages: 3, windowDays: 7 },
    campaignDay: '2026-11-24',
    jobRunId: null,
    ...overrides,
  });
  const drafted = (subject: string): DraftRecord => ({
    subject,
    messageText: `text of ${subject}`,
    generator: GeneratorKind.Template,
    fallbackReason: null,
    safetyViolations: null,
    smsSegments: null,
  });
  const statementsRun = () => jest.spyOn(pool, 'query');

  it('claims many customers in fewer statements than claims, each row written once', async () => {
    const customers = await insertCustomers(t.dataSource, { count: 40, daysAgo: 30, tag: 'batch' });
    const queries = statementsRun();
    const claims = customers.map((id) => claimFor(id));

    const outcomes = await Promise.all(claims.map((claim) => messages.claim(claim)));

    expect(outcomes).toEqual(customers.map(() => 'claimed'));
    expect(queries.mock.calls.length).toBeLessThan(claims.length);
    const rows: { id: string; user_id: string; delivery_status: string }[] = await t.dataSource.query(
      'SELECT id, user_id, delivery_status FROM ai_messages',
    );
    expect(rows.map((row) => row.id).sort()).toEqual(claims.map((claim) => claim.id).sort());
    expect(rows.every((row) => row.delivery_status === 'queued')).toBe(true);
    const stamped: { n: number }[] = await t.dataSource.query(
      'SELECT count(*)::int AS n FROM customers WHERE id = ANY($1) AND last_message_at IS NOT NULL',
      [customers],
    );
    expect(stamped[0].n).toBe(customers.length);
  });

  it('answers each claim of a batch with its own outcome, in order', async () => {
    const [optedOut, capped, first, second] = await insertCustomers(t.dataSource, { count: 4, daysAgo: 30, tag: 'mix' });
    await t.dataSource.query('UPDATE customers SET opted_out_at = now() WHERE id = $1', [optedOut]);
    const claims = [
      claimFor(first),
      claimFor(optedOut),
      claimFor(capped, { frequencyCap: { maxMessages: 0, windowDays: 7 } }),
      claimFor(randomUUID()),
      claimFor(second),
    ];

    const outcomes = await Promise.all(claims.map((claim) => messages.claim(claim)));

    expect(outcomes).toEqual(['claimed', 'opted_out', 'frequency_capped', 'customer_not_found', 'claimed']);
  });

  it('stores every field of a batched claim', async () => {
    const [customer, other] = await insertCustomers(t.dataSource, { count: 2, daysAgo: 30, tag: 'fields' });
    const jobRunId = randomUUID();
    const claim = claimFor(customer, {
      messageType: MessageType.Winback,
      channel: Channel.Sms,
      recipient: '+8801711000050',
      serviceId: DEMO.services.homeCleaning,
      promoCode: 'VIP20',
      tone: Tone.Premium,
      correlationId: 'fields-test',
      linkExpiresAt: new Date('2026-12-01T10:30:00.123Z'),
      bypassFrequencyCap: true,
      campaignDay: '2026-11-23',
      jobRunId,
    });

    await Promise.all([messages.claim(claimFor(other)), messages.claim(claim)]);

    const [row] = await t.dataSource.query('SELECT * FROM ai_messages WHERE id = $1', [claim.id]);
    expect(row).toMatchObject({
      user_id: customer,
      message_type: 'WINBACK',
      channel: 'SMS',
      recipient: '+8801711000050',
      service_id: DEMO.services.homeCleaning,
      promo_code: 'VIP20',
      tone: 'premium',
      correlation_id: 'fields-test',
      link_expires_at: new Date('2026-12-01T10:30:00.123Z'),
      bypassed_frequency_cap: true,
      job_run_id: jobRunId,
      delivery_status: 'queued',
    });
    const [day] = await t.dataSource.query('SELECT campaign_day::text AS day FROM ai_messages WHERE id = $1', [claim.id]);
    expect(day.day).toBe('2026-11-23');
  });

  it('lets one claim per customer and campaign day through when they share a batch', async () => {
    const [customer] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag: 'twice' });
    const [other] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag: 'other' });

    // The first claim goes alone; the next four wait for it and share one batch.
    const targets = [customer, customer, other, customer, customer];
    const outcomes = await Promise.all(targets.map((id) => messages.claim(claimFor(id))));

    expect(outcomes.filter((outcome) => outcome === 'claimed')).toHaveLength(2);
    expect(outcomes.filter((outcome) => outcome === 'already_claimed')).toHaveLength(3);
    const rows: { user_id: string }[] = await t.dataSource.query('SELECT user_id FROM ai_messages ORDER BY user_id');
    expect(rows.map((row) => row.user_id).sort()).toEqual([customer, other].sort());
  });

  it('fails only the bad claim of a batch, and writes nothing for it', async () => {
    const customers = await insertCustomers(t.dataSource, { count: 6, daysAgo: 30, tag: 'bad' });
    const claims = customers.map((id, i) => claimFor(id, i === 3 ? { promoCode: 'NO_SUCH_CODE' } : {}));

    const results = await Promise.allSettled(claims.map((claim) => messages.claim(claim)));

    expect(results.map((result) => result.status)).toEqual(claims.map((_, i) => (i === 3 ? 'rejected' : 'fulfilled')));
    expect((results[3] as PromiseRejectedResult).reason.message).toContain('promo_code');
    const rows: { id: string }[] = await t.dataSource.query('SELECT id FROM ai_messages');
    const good = claims.filter((_, i) => i !== 3);
    expect(rows.map((row) => row.id).sort()).toEqual(good.map((claim) => claim.id).sort());
  });

  it('marks many messages sending in fewer statements, each with its draft and one attempt; only queued rows move', async () => {
    const customers = await insertCustomers(t.dataSource, { count: 30, daysAgo: 30, tag: 'mark' });
    const claims = customers.map((id) => claimFor(id));
    await Promise.all(claims.map((claim) => messages.claim(claim)));
    // The sweeper released this one before its turn came: it must not be sent.
    await t.dataSource.query(`UPDATE ai_messages SET delivery_status = 'failed' WHERE id = $1`, [claims[0].id]);
    const queries = statementsRun();

    const marked = await Promise.all(claims.map((claim, i) => messages.markSending(claim.id, drafted(`subject ${i}`))));

    expect(marked).toEqual(claims.map((_, i) => i !== 0));
    expect(queries.mock.calls.length).toBeLessThan(claims.length);
    type Row = { id: string; subject: string | null; delivery_status: string; attempts: number };
    const rows: Row[] = await t.dataSource.query('SELECT id, subject, delivery_status, attempts FROM ai_messages');
    const byId = new Map(rows.map((row) => [row.id, row]));
    claims.forEach((claim, i) => {
      expect(byId.get(claim.id)).toEqual(
        i === 0
          ? { id: claim.id, subject: null, delivery_status: 'failed', attempts: 0 }
          : { id: claim.id, subject: `subject ${i}`, delivery_status: 'sending', attempts: 1 },
      );
    });
  });

  it('records each attempt on its own row, in fewer statements, without moving a status back', async () => {
    const customers = await insertCustomers(t.dataSource, { count: 30, daysAgo: 30, tag: 'record' });
    const claims = customers.map((id) => claimFor(id));
    await Promise.all(claims.map((claim) => messages.claim(claim)));
    await Promise.all(claims.map((claim, i) => messages.markSending(claim.id, drafted(`subject ${i}`))));
    // A fast click arrived before the send was recorded.
    await t.dataSource.query(`UPDATE ai_messages SET delivery_status = 'clicked' WHERE id = $1`, [claims[0].id]);
    const queries = statementsRun();

    await Promise.all(
      claims.map((claim, i) =>
        messages.recordAttempt(claim.id, { status: DeliveryStatus.Sent, providerMessageId: `<subject ${i}@test>` }),
      ),
    );

    expect(queries.mock.calls.length).toBeLessThan(claims.length);
    type Row = { id: string; subject: string; delivery_status: string; provider_message_id: string; sent_at: Date | null };
    const rows: Row[] = await t.dataSource.query(
      'SELECT id, subject, delivery_status, provider_message_id, sent_at FROM ai_messages',
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    claims.forEach((claim, i) => {
      const row = byId.get(claim.id)!;
      expect(row.subject).toBe(`subject ${i}`);
      expect(row.provider_message_id).toBe(`<subject ${i}@test>`);
      expect(row.sent_at).toBeInstanceOf(Date);
      expect(row.delivery_status).toBe(i === 0 ? 'clicked' : 'sent');
    });
  });

  it('stores every field of a draft, with half a character replaced rather than failing', async () => {
    const [customer] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag: 'record-fields' });
    const claim = claimFor(customer);
    await messages.claim(claim);
    const violations = [{ rule: 'bengali_script', detail: 'Bengali is 10% of 50 letters; at least 60% required' }];

    await messages.markSending(claim.id, {
      subject: 'নাভিদ \ud835, সময় হয়েছে',
      messageText: 'বার্তা',
      generator: GeneratorKind.OpenAi,
      fallbackReason: 'safety_rejected',
      safetyViolations: violations as DraftRecord['safetyViolations'],
      smsSegments: 2,
    });
    await messages.recordAttempt(claim.id, { status: DeliveryStatus.Sent, providerMessageId: '<fields@test>' });

    const [row] = await t.dataSource.query('SELECT * FROM ai_messages WHERE id = $1', [claim.id]);
    expect(row).toMatchObject({
      subject: 'নাভিদ \ufffd, সময় হয়েছে',
      message_text: 'বার্তা',
      generator: 'openai',
      fallback_reason: 'safety_rejected',
      safety_violations: violations,
      delivery_status: 'sent',
      provider_message_id: '<fields@test>',
      last_error: null,
      attempts: 1,
      sms_segments: 2,
    });
  });

  it('puts a retried message back to queued with its error, and keeps the last error once it is sent', async () => {
    const [customer] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag: 'retry' });
    const claim = claimFor(customer);
    await messages.claim(claim);
    await messages.markSending(claim.id, drafted('retried'));

    await messages.recordAttempt(claim.id, { status: DeliveryStatus.Queued, error: '421 try later' });
    const row = () => t.dataSource.query('SELECT delivery_status, attempts, last_error FROM ai_messages WHERE id = $1', [claim.id]);
    expect(await row()).toEqual([{ delivery_status: 'queued', attempts: 1, last_error: '421 try later' }]);

    expect(await messages.markSending(claim.id, drafted('retried'))).toBe(true);
    await messages.recordAttempt(claim.id, { status: DeliveryStatus.Sent, providerMessageId: '<retried@test>' });
    expect(await row()).toEqual([{ delivery_status: 'sent', attempts: 2, last_error: '421 try later' }]);
  });

  it('gives a failed message its frequency-cap slot back', async () => {
    const [customer] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag: 'fail' });
    const claim = claimFor(customer);
    await messages.claim(claim);
    await messages.markSending(claim.id, drafted('failed one'));

    await messages.recordAttempt(claim.id, { status: DeliveryStatus.Failed, error: 'SMTP 554' });

    const [row] = await t.dataSource.query('SELECT delivery_status, last_error, sent_at FROM ai_messages WHERE id = $1', [
      claim.id,
    ]);
    expect(row).toEqual({ delivery_status: 'failed', last_error: 'SMTP 554', sent_at: null });
    const [stamp] = await t.dataSource.query('SELECT last_message_at FROM customers WHERE id = $1', [customer]);
    expect(stamp.last_message_at).toBeNull();
  });

  it('answers exists for an id that already has a row, whatever the cap or the campaign-day key say', async () => {
    const [customer] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag: 'exists' });
    const claim = claimFor(customer, { frequencyCap: { maxMessages: 1, windowDays: 7 } });
    expect(await messages.claim(claim)).toBe('claimed');
    expect(await messages.claim(claim)).toBe('exists');
    expect(await messages.claim({ ...claim, id: randomUUID() })).toBe('already_claimed');
  });

  describe('settling interrupted messages', () => {
    /** Claims one message per customer and moves it to `status`, last changed `minutesAgo`. */
    const stuck = async (tag: string, channel: Channel, status: 'queued' | 'sending', minutesAgo: number) => {
      const [customer] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag });
      const claim = claimFor(customer, { channel, frequencyCap: { maxMessages: 1, windowDays: 7 } });
      await messages.claim(claim);
      if (status === 'sending') await messages.markSending(claim.id, drafted(tag));
      await t.dataSource.query(`UPDATE ai_messages SET updated_at = now() - make_interval(mins => $2) WHERE id = $1`, [
        claim.id,
        minutesAgo,
      ]);
      return claim;
    };
    const state = async (id: string) =>
      (
        await t.dataSource.query(
          `SELECT m.delivery_status, m.last_error, m.campaign_day IS NOT NULL AS holds_day, c.last_message_at IS NOT NULL AS capped
             FROM ai_messages m JOIN customers c ON c.id = m.user_id WHERE m.id = $1`,
          [id],
        )
      )[0];

    it('fails stale queued rows and frees their cap slot and campaign day; stale sending emails become unknown', async () => {
      const queued = await stuck('stale-queued', Channel.Email, 'queued', 11);
      const sending = await stuck('stale-sending', Channel.Email, 'sending', 11);
      const smsSending = await stuck('stale-sms', Channel.Sms, 'sending', 11);
      const fresh = await stuck('fresh-queued', Channel.Email, 'queued', 1);

      const settled = await messages.settleInterrupted({ staleBefore: new Date(Date.now() - 10 * 60_000) }, [Channel.Email]);

      expect(settled).toEqual({ released: [Channel.Email], unknown: [Channel.Email] });
      expect(await state(queued.id)).toEqual({
        delivery_status: 'failed',
        last_error: INTERRUPTED_BEFORE_SENDING,
        holds_day: false,
        capped: false,
      });
      expect(await state(sending.id)).toEqual({
        delivery_status: 'unknown',
        last_error: INTERRUPTED_WHILE_SENDING,
        holds_day: true,
        capped: true,
      });
      expect((await state(smsSending.id)).delivery_status).toBe('sending');
      expect((await state(fresh.id)).delivery_status).toBe('queued');
      // The released customer can be claimed again the same campaign day; the unknown one cannot.
      expect(await messages.claim({ ...queued, id: randomUUID() })).toBe('claimed');
      expect(await messages.claim({ ...sending, id: randomUUID() })).toBe('already_claimed');
    });

    it('takes stale sending SMS for another attempt while they have attempts left, else makes them unknown', async () => {
      const retry = await stuck('sms-retry', Channel.Sms, 'sending', 11);
      const spent = await stuck('sms-spent', Channel.Sms, 'sending', 11);
      await t.dataSource.query('UPDATE ai_messages SET attempts = 5 WHERE id = $1', [spent.id]);

      const taken = await messages.takeStaleSms(new Date(Date.now() - 10 * 60_000), 5);

      expect(taken.unknown).toBe(1);
      expect(taken.resend).toEqual([
        { id: retry.id, recipient: retry.recipient, attempts: 2, draft: drafted('sms-retry') },
      ]);
      expect((await state(retry.id)).delivery_status).toBe('sending');
      expect((await state(spent.id)).delivery_status).toBe('unknown');
      // Touched: a second sweep right after takes nothing.
      expect(await messages.takeStaleSms(new Date(Date.now() - 10 * 60_000), 5)).toEqual({ resend: [], unknown: 0 });
    });
  });
});
