import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Logger } from 'nestjs-pino';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { seedDemoData } from '../../src/database/demo-seed';
import { setupApp } from '../../src/setup-app';

import { ADMIN_KEY, testConfig } from './test-config';

export { ADMIN_KEY, BOOKING_BASE_URL, JWT_SECRET, PUBLIC_BASE_URL } from './test-config';

export interface TestApp {
  app: INestApplication;
  dataSource: DataSource;
  http: () => ReturnType<typeof request>;
  outboxDir: string;
  close: () => Promise<void>;
}

/** The whole application over HTTP on the e2e database, configured by testConfig with `env` on top. */
export async function createTestApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const outboxDir = mkdtempSync(join(tmpdir(), 'smartengage-outbox-'));
  const config = testConfig({ OUTBOX_DIR: outboxDir, ...env });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  // The service's own logger (pino, LOG_LEVEL=warn), as main.ts installs it.
  const app = moduleRef.createNestApplication({ bufferLogs: true, rawBody: true });
  app.useLogger(app.get(Logger));
  setupApp(app);
  await app.init();
  return {
    app,
    dataSource: app.get(DataSource),
    http: () => request(app.getHttpServer()),
    outboxDir,
    close: () => app.close(),
  };
}

/** Empties every table the specs write and loads the demo data again. */
export async function resetDatabase(dataSource: DataSource): Promise<void> {
  // Leases too: a child process an earlier spec stopped may leave its lock until the lease's TTL runs out.
  await dataSource.query('TRUNCATE ai_messages, bookings, customers, users, lock_leases CASCADE');
  await seedDemoData(dataSource);
}

export const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
