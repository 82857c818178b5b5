import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { INTERRUPTED_BEFORE_SENDING, INTERRUPTED_WHILE_SENDING } from '../src/messaging/ai-message.repository';
import { insertCustomers } from './support/customers';
import { FakeOpenAiServer } from './support/fake-openai.server';
import { ScriptedSmtpServer } from './support/scripted-smtp';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { ADMIN_KEY, auth, createTestApp, JWT_SECRET, resetDatabase, TestApp } from './support/test-app';
import { waitFor } from './support/wait';
import { testDatabaseUrl } from './support/test-config';

const RUN = '/internal/ai/smartengage/run-segment';
const RUN_BODY = { send_window_start: 0, send_window_end: 24 };

const byStatus = async (dataSource: DataSource): Promise<Record<string, number>> => {
  const rows: { status: string; n: number }[] = await dataSource.query(
    'SELECT delivery_status AS status, count(*)::int AS n FROM ai_messages GROUP BY 1',
  );
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
};

const serviceEnv = (smtpUrl: string, extra: Record<string, string> = {}) => ({
  NODE_ENV: 'test',
  DATABASE_URL: testDatabaseUrl(),
  ADMIN_API_KEYS: ADMIN_KEY,
  JWT_SECRET,
  SMTP_URL: smtpUrl,
  OUTBOX_DIR: mkdtempSync(join(tmpdir(), 'smartengage-interrupted-')),
  CAMPAIGN_SCHEDULER_ENABLED: 'false',
  LOG_LEVEL: 'warn',
  ...extra,
});

const startRun = (service: ServiceProcess) =>
  void fetch(`${service.url}${RUN}`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify(RUN_BODY),
  }).catch(() => undefined);


describe('a delivery process killed between the claim and the send (in-process mode)', () => {
  const smtp = new ScriptedSmtpServer();
  const llm = new FakeOpenAiServer();
  let t: TestApp | undefined;
  let killed: ServiceProcess | undefined;

  beforeAll(async () => {
    await Promise.all([smtp.start(), llm.start()]);
  });
  afterAll(async () => {
    killed?.signal('SIGKILL', { group: true });
    await t?.close();
    await Promise.all([smtp.close(), llm.stop()]);
  });

  it('loses nobody: the sweeper settles every row, the next run sends the released customer, nobody gets two', async () => {
    const probe = await createTestApp({ SMTP_URL: smtp.url });
    await resetDatabase(probe.dataSource);
    await probe.dataSource.query('TRUNCATE job_runs');
    await insertCustomers(probe.dataSource, { count: 20, daysAgo: 25, tag: 'interrupted' });
    const eligible = 23;

    // Two customers at a time: one drafting (OPENAI_CONCURRENCY), one sending (CAMPAIGN_CONCURRENCY). The mail
    // server takes 5 messages and then stops answering (the 6th stays `sending`); the LLM writes 6 drafts and
    // then hangs (the 7th stays `queued`, being drafted).
    smtp.set({ accept: true, holdAfter: 5 });
    llm.reply(...Array.from({ length: 6 }, () => ({ kind: 'good' as const })));
    llm.always({ kind: 'delay', ms: 600_000, then: { kind: 'good' } });
    killed = await startServiceProcess({
      env: serviceEnv(smtp.url, {
        CAMPAIGN_CONCURRENCY: '1',
        OPENAI_CONCURRENCY: '1',
        OPENAI_API_KEY: 'sk-fake',
        OPENAI_BASE_URL: llm.baseUrl,
        OPENAI_TIMEOUT_SECONDS: '300',
        OPENAI_MAX_RETRIES: '0',
        // The killed process's campaign lease frees itself this soon, so the next run can take the lock.
        LOCK_LEASE_TTL_SECONDS: '2',
      }),
    });
    startRun(killed);
    await waitFor('5 sent, one held at the mail server and one waiting for the LLM', async () => {
      const counts = await byStatus(probe.dataSource);
      return counts.sent === 5 && smtp.held === 1 && llm.requests.length === 7 && (counts.queued ?? 0) + (counts.sending ?? 0) === 2;
    }, 30_000);
    killed.signal('SIGKILL', { group: true });
    await killed.exited;
    expect(await byStatus(probe.dataSource)).toEqual({ sent: 5, sending: 1, queued: 1 });
    const [interruptedSend] = await probe.dataSource.query(`SELECT user_id FROM ai_messages WHERE delivery_status = 'sending'`);
    const [interruptedDraft] = await probe.dataSource.query(`SELECT user_id FROM ai_messages WHERE delivery_status = 'queued'`);
    // STALE_CLAIM_MINUTES (10) pass; then a replica starts, and sweeps at boot.
    await probe.dataSource.query(
      `UPDATE ai_messages SET updated_at = now() - interval '11 minutes' WHERE delivery_status IN ('queued', 'sending')`,
    );
    await probe.close();
    smtp.set({ accept: true });
    t = await createTestApp({ SMTP_URL: smtp.url });

    const settled: { user_id: string; delivery_status: string; last_error: string | null }[] = await t.dataSource.query(
      `SELECT user_id, delivery_status, last_error FROM ai_messages WHERE user_id = ANY($1) ORDER BY delivery_status`,
      [[interruptedSend.user_id, interruptedDraft.user_id]],
    );
    expect(settled).toEqual([
      { user_id: interruptedDraft.user_id, delivery_status: 'failed', last_error: INTERRUPTED_BEFORE_SENDING },
      { user_id: interruptedSend.user_id, delivery_status: 'unknown', last_error: INTERRUPTED_WHILE_SENDING },
    ]);
    expect(await byStatus(t.dataSource)).toEqual({ sent: 5, unknown: 1, failed: 1 });

    // The next run: the released customer is sent, the unknown one is not (it may have had the email). It
    // waits for the killed run's campaign lease to run out.
    await waitFor(
      'the killed run to lose its campaign lock',
      async () => (await t!.dataSource.query('SELECT 1 FROM lock_leases WHERE expires_at > now()')).length === 0,
      30_000,
    );
    const res = await t.http().post(RUN).set(auth).send(RUN_BODY).expect(200);
    expect(res.body.sent).toBe(eligible - 5 - 1);
    expect(await byStatus(t.dataSource)).toEqual({ sent: eligible - 1, unknown: 1, failed: 1 });
    const perRecipient = smtp.perRecipient();
    expect(smtp.accepted).toHaveLength(eligible - 1);
    expect(Math.max(...perRecipient.values())).toBe(1);
  });
});

describe('a delivery process stopped with SIGTERM mid-run (in-process mode)', () => {
  const smtp = new ScriptedSmtpServer();
  let t: TestApp;

  beforeAll(async () => {
    await smtp.start();
    t = await createTestApp({ SMTP_URL: smtp.url });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it('finishes the deliveries in flight and leaves no message queued or sending', async () => {
    await resetDatabase(t.dataSource);
    await t.dataSource.query('TRUNCATE job_runs');
    await insertCustomers(t.dataSource, { count: 60, daysAgo: 25, tag: 'sigterm' });
    smtp.set({ accept: true, delayMs: 150 });
    const service = await startServiceProcess({ env: serviceEnv(smtp.url, { CAMPAIGN_CONCURRENCY: '4' }) });
    try {
      startRun(service);
      await waitFor('some messages sent', async () => ((await byStatus(t.dataSource)).sent ?? 0) >= 8, 30_000);
      service.signal('SIGTERM');
      const exit = await Promise.race([
        service.exited,
        sleep(20_000).then(() => Promise.reject(new Error('the service did not exit within 20 s of SIGTERM'))),
      ]);

      expect(exit.signal ?? exit.code).toBe('SIGTERM');
      const counts = await byStatus(t.dataSource);
      expect(counts).toEqual({ sent: counts.sent });
      expect(counts.sent).toBeLessThan(63);
      expect(smtp.accepted).toHaveLength(counts.sent);
    } finally {
      service.signal('SIGKILL', { group: true });
    }
  });
});
