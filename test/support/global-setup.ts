import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runMigrationsUnderLock } from '../../src/database/migrate';

// One database per run, so concurrent runs on one server never share or drop each other's data.
const TEST_DATABASE = `smartengage_test_${process.pid}`;

/**
 * One real Postgres for the e2e run: TEST_DATABASE_URL's server if set, else an embedded one.
 * A fresh database is created on it and migrated; the specs get its URL as DATABASE_URL.
 */
export default async function globalSetup(): Promise<void> {
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgres('.data/test-postgres', (line) => console.log(line));
    (globalThis as Record<string, unknown>).__EMBEDDED_PG__ = embedded;
    serverUrl = embedded.url;
  }
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${TEST_DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${TEST_DATABASE}`;
  const dataSource = await new DataSource(dataSourceOptions(url.toString(), 2)).initialize();
  try {
    await runMigrationsUnderLock(dataSource);
  } finally {
    await dataSource.destroy();
  }
  process.env.DATABASE_URL = url.toString();
  (globalThis as Record<string, unknown>).__TEST_DATABASE__ = { serverUrl, name: TEST_DATABASE };
}
