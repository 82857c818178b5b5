import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { DEMO } from '../src/database/demo-seed';
import { dataSourceOptions } from '../src/database/data-source-options';
import { JwtService } from '@nestjs/jwt';
import { AppConfig } from '../src/config/app-config';
import { validateEnvironment } from '../src/config/environment';
import { DeepLinkService } from '../src/messaging/deep-link.service';
import { bookingToken, readOutboxMail } from './support/outbox';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { ADMIN_KEY, JWT_SECRET, PUBLIC_BASE_URL, resetDatabase } from './support/test-app';
import { testDatabaseUrl } from './support/test-config';

interface LogLine {
  level: string;
  time: string;
  msg: string;
  context?: string;
  correlationId?: string;
  runId?: string;
  customerId?: string;
  messageId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

const SEND_CORRELATION_ID = 'logs-e2e-send-0001';
const RUN_CORRELATION_ID = 'logs-e2e-run-0002';

describe('logs of the built service in production', () => {
  let dataSource: DataSource;
  let service: ServiceProcess;
  let outboxDir: string;
  let databasePassword: string;

  beforeAll(async () => {
    dataSource = await new DataSource(dataSourceOptions(testDatabaseUrl(), 2)).initialize();
    await resetDatabase(dataSource);
    // A password in the URL shows whether the service ever logs it: the embedded server's own (random per
    // cluster), or a random one for a server that trusts local connections. Neither can occur in a log by chance.
    const databaseUrl = new URL(testDatabaseUrl());
    databasePassword = databaseUrl.password || (databaseUrl.password = `pg-${randomBytes(16).toString('hex')}`);
    outboxDir = mkdtempSync(join(tmpdir(), 'smartengage-logs-'));
    service = await startServiceProcess({
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        DATABASE_URL: databaseUrl.toString(),
        JWT_SECRET,
        ADMIN_API_KEYS: ADMIN_KEY,
        PUBLIC_BASE_URL,
        OUTBOX_DIR: outboxDir,
        CAMPAIGN_SCHEDULER_ENABLED: 'false',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await dataSource?.destroy();
  });

  it('writes one JSON object per line with ids as fields, and never a key or a token', async () => {
    const admin = { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' };
    const sent = await fetch(`${service.url}/admin/smartengage/send-single`, {
      method: 'POST',
      headers: { ...admin, 'X-Correlation-ID': SEND_CORRELATION_ID },
      body: JSON.stringify({ customer_id: DEMO.customers.vip, message_type: 'reminder', promo_code: 'VIP20' }),
    });
    expect(sent.status).toBe(200);
    const { message_id: messageId } = (await sent.json()) as { message_id: string };

    const mail = await readOutboxMail(outboxDir, messageId);
    const token = bookingToken(mail.text!);
    const listUnsubscribe = mail.headerLines.find((header) => header.key === 'list-unsubscribe')!.line;
    const unsubscribePath = new URL(/<([^>]+)>/.exec(listUnsubscribe)![1]).pathname;
    const unsubscribeToken = unsubscribePath.split('/').pop()!;
    expect((await fetch(`${service.url}${unsubscribePath}`)).status).toBe(200);
    // A token in a query string, and a redirect whose Location carries one.
    // The service's click code for the message, derived from the same JWT_SECRET.
    const links = new DeepLinkService(new JwtService(), new AppConfig(validateEnvironment({ JWT_SECRET, PUBLIC_BASE_URL })));
    const clickPath = new URL(links.clickUrl(messageId)).pathname;
    const clickCode = clickPath.split('/').pop()!;
    const click = await fetch(`${service.url}${clickPath}?token=${token}`, { redirect: 'manual' });
    expect(click.status).toBe(302);
    const openPath = new URL(links.openPixelUrl(messageId)).pathname;
    const openCode = openPath.split('/').pop()!.replace(/\.gif$/, '');
    expect((await fetch(`${service.url}${openPath}`)).status).toBe(200);

    const run = await fetch(`${service.url}/internal/ai/smartengage/run-segment`, {
      method: 'POST',
      headers: { ...admin, 'X-Correlation-ID': RUN_CORRELATION_ID },
      body: JSON.stringify({ dry_run: true }),
    });
    expect(run.status).toBe(200);
    const { job_run_id: runId } = (await run.json()) as { job_run_id: string };

    await service.stop(); // every line is written by the time the process exits
    const stdout = service.stdout();
    const lines = stdout.split('\n').filter((line) => line.length > 0);
    const parsed: LogLine[] = lines.map((line) => JSON.parse(line));
    expect(parsed.length).toBeGreaterThan(10);
    for (const line of parsed) expect(line).toEqual(expect.objectContaining({ level: expect.any(String), msg: expect.any(String) }));

    const requestLine = (method: string, url: string) =>
      parsed.find((line) => line.msg === 'request completed' && line.req?.method === method && line.req.url === url);
    expect(requestLine('POST', '/admin/smartengage/send-single')).toMatchObject({
      level: 'info',
      correlationId: SEND_CORRELATION_ID,
      res: { statusCode: 200 },
    });
    expect(requestLine('GET', '/unsubscribe/[redacted]')).toMatchObject({ res: { statusCode: 200 } });
    expect(requestLine('GET', '/r/[redacted]?token=[redacted]')).toMatchObject({ res: { statusCode: 302 } });
    expect(requestLine('GET', '/o/[redacted]')).toMatchObject({ res: { statusCode: 200 } });

    // The send: the ids are fields, on every line written while handling it.
    const sendLines = parsed.filter((line) => line.req?.url === '/admin/smartengage/send-single');
    expect(sendLines.length).toBeGreaterThanOrEqual(3);
    for (const line of sendLines) expect(line.correlationId).toBe(SEND_CORRELATION_ID);
    expect(sendLines.find((line) => line.context === 'EmailSender')).toMatchObject({
      customerId: DEMO.customers.vip,
      messageId,
    });
    expect(sendLines.find((line) => line.context === 'SmartEngageService')).toMatchObject({ messageId, msg: 'Sent REMINDER' });

    // The campaign run: its lines carry the run id.
    const runLines = parsed.filter((line) => line.context === 'CampaignRunner');
    expect(runLines.length).toBeGreaterThanOrEqual(2);
    for (const line of runLines) expect(line).toMatchObject({ correlationId: RUN_CORRELATION_ID, runId });
    expect(runLines.every((line) => !line.msg.includes(runId))).toBe(true);

    const everything = stdout + service.stderr();
    for (const secret of [ADMIN_KEY, JWT_SECRET, token, unsubscribeToken, clickCode, openCode, databasePassword]) {
      expect(everything).not.toContain(secret);
    }
  });
});
