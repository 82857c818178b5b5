import { AppConfig } from '../../src/config/app-config';
import { validateEnvironment } from '../../src/config/environment';

export const ADMIN_KEY = 'e2e-admin-key-0123456789abcdef0123456789';
export const JWT_SECRET = 'e2e-jwt-secret-0123456789abcdef-0123';
export const BOOKING_BASE_URL = 'https://app.sheba.xyz/book';
export const PUBLIC_BASE_URL = 'http://smartengage.test';

/** The run's e2e database, which global-setup created, migrated and handed to the jest workers. */
export function testDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the e2e specs through jest (test/support/global-setup.ts)');
  return url;
}

/**
 * The environment of an app under test, as values: the test database, the e2e keys, no SMTP server or LLM,
 * the scheduler off; `overrides` on top (undefined leaves a variable unset). The process's own environment
 * is not read, so what a spec runs with is what it says.
 */
export function testEnvironment(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const settings: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    DATABASE_URL: testDatabaseUrl(),
    ADMIN_API_KEYS: ADMIN_KEY,
    JWT_SECRET,
    BOOKING_BASE_URL,
    PUBLIC_BASE_URL,
    LOG_LEVEL: 'warn',
    CAMPAIGN_SCHEDULER_ENABLED: 'false',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(settings).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** The validated configuration of an app under test (see testEnvironment). */
export function testConfig(overrides: Record<string, string | undefined> = {}): AppConfig {
  return new AppConfig(validateEnvironment(testEnvironment(overrides)));
}
