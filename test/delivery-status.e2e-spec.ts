import { randomUUID } from 'node:crypto';
import { DEMO } from '../src/database/demo-seed';
import { AiMessageRepository, ClaimRequest, StoredDraft } from '../src/messaging/ai-message.repository';
import { DeliveryStatus, nextStatus, StatusChange } from '../src/messaging/delivery-status';
import { Channel, GeneratorKind, MessageType, Tone } from '../src/messaging/message.types';
import { insertCustomers } from './support/customers';
import { createTestApp, resetDatabase, TestApp } from './support/test-app';

type Row = Record<string, unknown> & { id: string; delivery_status: DeliveryStatus };

/** The columns an attempt record stores even when its status change is refused (an event may have gone past `sent`). */
const ATTEMPT_FACTS = ['provider_message_id', 'last_error', 'sent_at', 'updated_at'];

/**
 * The state machine as the database applies it: every repository operation that writes delivery_status, on a
 * row in each status, moves it where the declaration says, and a refused move leaves the row as it was.
 */
describe('delivery status transitions in SQL (real Postgres)', () => {
  let t: TestApp;
  let messages: AiMessageRepository;
  let customer: string;

  beforeAll(async () => {
    t = await createTestApp();
    messages = t.app.get(AiMessageRepository);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await resetDatabase(t.dataSource);
    [customer] = await insertCustomers(t.dataSource, { count: 1, daysAgo: 30, tag: 'states' });
  });

  const claim = (): ClaimRequest => ({
    id: randomUUID(),
    userId: customer,
    messageType: MessageType.Reminder,
    channel: Channel.Email,
    recipient: 'states@example.com',
    serviceId: DEMO.services.plumbing,
    promoCode: null,
    tone: Tone.Friendly,
    correlationId: 'states',
    linkExpiresAt: new Date(Date.now() + 86_400_000),
    bypassFrequencyCap: true,
    frequencyCap: { maxMessages: 3, windowDays: 7 },
    campaignDay: null,
    jobRunId: null,
  });

  /** One message in each status, last touched an hour ago, on `channel`, with `attempts` hand-overs. */
  async function rowInEachStatus(channel = Channel.Email, attempts = 1): Promise<Map<DeliveryStatus, Row>> {
    const statuses = Object.values(DeliveryStatus);
    const claims = statuses.map(() => claim());
    for (const request of claims) expect(await messages.claim(request)).toBe('claimed');
    await t.dataSource.query(
      `UPDATE ai_messages m SET delivery_status = s.status, channel = $3, attempts = $4, last_error = 'before',
              provider_message_id = '<before@test>', updated_at = now() - interval '1 hour'
         FROM unnest($1::uuid[], $2::text[]) AS s(id, status) WHERE m.id = s.id`,
      [claims.map((c) => c.id), statuses, channel, attempts],
    );
    return snapshot(claims.map((c) => c.id));
  }

  async function snapshot(ids: string[]): Promise<Map<DeliveryStatus, Row>> {
    const rows: Row[] = await t.dataSource.query('SELECT * FROM ai_messages WHERE id = ANY($1::uuid[])', [ids]);
    return new Map(rows.map((row) => [row.delivery_status, row]));
  }

  /** Applies `operation` to the row of each status, then checks every row against `expected(from)`. */
  async function expectMoves(
    operation: (row: Row) => Promise<unknown>,
    expected: (from: DeliveryStatus) => DeliveryStatus | null,
    { channel = Channel.Email, attempts = 1, storesFacts = false } = {},
  ): Promise<void> {
    const before = await rowInEachStatus(channel, attempts);
    for (const row of before.values()) await operation(row);
    const after: Row[] = await t.dataSource.query('SELECT * FROM ai_messages WHERE id = ANY($1::uuid[])', [
      [...before.values()].map((row) => row.id),
    ]);
    for (const row of after) {
      const from = [...before.entries()].find(([, old]) => old.id === row.id)![0];
      const to = expected(from);
      expect({ from, status: row.delivery_status }).toEqual({ from, status: to ?? from });
      if (to !== null) continue;
      const unchanged = storesFacts ? omit(row, ATTEMPT_FACTS) : row;
      expect({ from, row: unchanged }).toEqual({ from, row: storesFacts ? omit(before.get(from)!, ATTEMPT_FACTS) : before.get(from) });
    }
  }

  const draft = { subject: 's', messageText: 't', generator: GeneratorKind.Template, fallbackReason: null, safetyViolations: null, smsSegments: null };

  const storedDraft: StoredDraft = {
    prose: { subject: 's', body: 'b' },
    generator: GeneratorKind.OpenAi,
    fallbackReason: null,
    safetyViolations: null,
    model: 'gpt-4o-mini',
    promptVersion: '0123456789ab',
    usage: { input: 80, cachedInput: 20, output: 60 },
    costUsd: 0.000051,
  };

  it('send (markSending) moves only what the declaration allows', async () => {
    await expectMoves((row) => messages.markSending(row.id, draft), (from) => nextStatus(from, StatusChange.Send));
  });

  it('storing a first draft (storeDraft) moves no status and fills only a row the send may still take, once', async () => {
    const before = await rowInEachStatus();
    const first = { ...storedDraft, prose: { subject: 'first', body: 'first body' } };
    for (const row of before.values()) {
      expect({ from: row.delivery_status, stored: await messages.storeDraft(row.id, first) }).toEqual({
        from: row.delivery_status,
        stored: nextStatus(row.delivery_status, StatusChange.Send) !== null,
      });
    }
    const queued = before.get(DeliveryStatus.Queued)!;
    expect(await messages.storeDraft(queued.id, { ...storedDraft, prose: { subject: 'second', body: 'second body' } })).toBe(false);
    const after = await snapshot([...before.values()].map((row) => row.id));
    for (const [status, row] of after) {
      if (status === DeliveryStatus.Queued) {
        expect(row).toMatchObject({ prose_subject: 'first', prose_body: 'first body', llm_model: 'gpt-4o-mini', prompt_tokens: 80 });
      } else {
        expect({ status, row }).toEqual({ status, row: before.get(status) });
      }
    }
  });

  it.each([
    [DeliveryStatus.Sent, StatusChange.Sent],
    [DeliveryStatus.Failed, StatusChange.Fail],
    [DeliveryStatus.Queued, StatusChange.Retry],
    [DeliveryStatus.Unknown, StatusChange.Lose],
  ] as const)('an attempt recorded as %s applies %s; a refused one keeps the status and only stores the facts', async (status, change) => {
    const record =
      status === DeliveryStatus.Sent ? { status, providerMessageId: '<after@test>' } : { status, error: 'after' };
    await expectMoves((row) => messages.recordAttempt(row.id, record), (from) => nextStatus(from, change), { storesFacts: true });
  });

  it('abandon (markFailed, a rejected draft) moves only what the declaration allows', async () => {
    await expectMoves((row) => messages.markFailed(row.id, 'rejected'), (from) => nextStatus(from, StatusChange.Abandon));
  });

  it('settling interrupted messages abandons the queued ones and loses the sending ones', async () => {
    await expectMoves(
      (row) => messages.settleInterrupted({ ids: [row.id] }, [Channel.Email]),
      (from) => nextStatus(from, StatusChange.Abandon) ?? nextStatus(from, StatusChange.Lose),
    );
  });

  it('the sweeper loses stale SMS that have no attempts left', async () => {
    await expectMoves(
      () => messages.takeStaleSms(new Date(Date.now() - 60_000), 1),
      (from) => nextStatus(from, StatusChange.Lose),
      { channel: Channel.Sms, attempts: 1 },
    );
  });

  it.each([StatusChange.Open, StatusChange.Click, StatusChange.Book, StatusChange.Unsubscribe] as const)(
    'an engagement change (%s) moves only what the declaration allows',
    async (change) => {
      await expectMoves((row) => messages.advance(row.id, change), (from) => nextStatus(from, change));
    },
  );
});

function omit(row: Row, columns: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([column]) => !columns.includes(column)));
}
