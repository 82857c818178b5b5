import { Client } from 'pg';
import type { EmbeddedDatabase } from '../../src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis as Record<string, unknown>;
  const database = state.__TEST_DATABASE__ as { serverUrl: string; name: string } | undefined;
  if (database) {
    const admin = new Client({ connectionString: database.serverUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  await (state.__EMBEDDED_PG__ as EmbeddedDatabase | undefined)?.stop();
}
