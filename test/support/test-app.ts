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

export const ADMIN_KEY = 'e2e-admin-key-0123456789abcdef0123456789';
export const JWT_SECRET = 'e2e-jwt-secret-0123456789abcdef';
export const BOOKING_BASE_URL = 'https://app.sheba.xyz/book';
export const PUBLIC_BASE_URL = 'http://smartengage.test';

export interface TestApp {
  app: INestApplication;
  dataSource: DataSource;
  http: () => ReturnType<typeof request>;
  outboxDir: string;
  close: () => Promise<void>;
}

/** The whole application over HTTP on the e2e database, with env overrides for this app only. */
export async function createTestApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const outboxDir = mkdtempSync(join(tmpdir(), 'smartengage-outbox-'));
  const settings: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    ADMIN_API_KEYS: ADMIN_KEY,
    JWT_SECRET,
    OUTBOX_DIR: outboxDir,
    BOOKING_BASE_URL,
    PUBLIC_BASE_URL,
    SMTP_URL: undefined,
    OPENAI_API_KEY: undefined,
    OPENAI_BASE_URL: undefined,
    LOG_LEVEL: 'warn',
    CAMPAIGN_SCHEDULER_ENABLED: 'false',
    ...env,
  };
  const saved = Object.fromEntries(Object.keys(settings).map((key) => [key, process.env[key]]));
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot()] }).compile();
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
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Empties every table the specs write and loads the demo data again. */
export async function resetDatabase(dataSource: DataSource): Promise<void> {
  // Leases too: a child process an earlier spec stopped may leave its lock until the lease's TTL runs out.
  await dataSource.query('TRUNCATE ai_messages, bookings, customers, users, lock_leases CASCADE');
  await seedDemoData(dataSource);
}

export const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
