import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, MIGRATIONS } from '../src/database/data-source-options';
import { runMigrationsUnderLock } from '../src/database/migrate';
import { PgBouncer, startPgBouncer } from './support/pgbouncer';
import { testDatabaseUrl } from './support/test-config';

describe('migrations at boot through PgBouncer in transaction mode', () => {
  const url = new URL(testDatabaseUrl());
  const database = `${url.pathname.slice(1)}_migrations`;
  let bouncer: PgBouncer;
  let admin: Client;

  beforeAll(async () => {
    bouncer = await startPgBouncer();
    admin = new Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
  });
  afterAll(async () => {
    await bouncer?.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('applies each migration once when two replicas boot together, and leaves no lock behind', async () => {
    const pooled = new URL(bouncer.url);
    pooled.pathname = `/${database}`;
    const replicas = await Promise.all(
      [1, 2].map(() => new DataSource(dataSourceOptions(pooled.toString(), 2)).initialize()),
    );
    try {
      const applied = await Promise.all(replicas.map((replica) => runMigrationsUnderLock(replica)));
      expect(applied.map((list) => list.length).sort()).toEqual([0, MIGRATIONS.length]);
      const [{ n }] = await replicas[0].query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(n).toBe(MIGRATIONS.length);
      // A third boot finds nothing to do and does not wait on a leaked lock.
      expect(await runMigrationsUnderLock(replicas[1])).toEqual([]);
    } finally {
      await Promise.all(replicas.map((replica) => replica.destroy()));
    }
    const locks = await admin.query(
      `SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = $1)`,
      [database],
    );
    expect(locks.rows).toEqual([]);
  });
});
