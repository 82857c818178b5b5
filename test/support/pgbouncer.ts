import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { freePort } from './service-process';
import { testDatabaseUrl } from './test-config';

const BINARIES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

export interface PgBouncer {
  /** `databaseUrl` with the host and port of the pooler. */
  url: string;
  stop: () => Promise<void>;
}

/**
 * A real PgBouncer in transaction mode in front of `databaseUrl`'s server (Debian's `pgbouncer`; .ci/run
 * installs it). It refuses to run as root, so as root it runs as the `postgres` user from a directory that
 * user owns.
 */
export async function startPgBouncer(databaseUrl = testDatabaseUrl()): Promise<PgBouncer> {
  if (!databaseUrl) throw new Error('startPgBouncer needs a database URL');
  const binary = BINARIES.find((path) => existsSync(path));
  if (!binary) throw new Error('pgbouncer is not installed: apt-get install -y pgbouncer (.ci/run does)');

  const upstream = new URL(databaseUrl);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'smartengage-pgbouncer-'));
  const user = decodeURIComponent(upstream.username || 'postgres');
  const password = decodeURIComponent(upstream.password);
  writeFileSync(join(dir, 'users.txt'), `"${user}" "${password}"\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      'default_pool_size = 20',
      // Hand out server connections in turn rather than the last one used, as a busy pooler does: a statement
      // that relies on landing on the same server connection as the one before fails here, not by luck.
      'server_round_robin = 1',
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (owner) for (const file of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(dir, file), owner.uid, owner.gid);

  let output = '';
  const child: ChildProcess = spawn(binary, [join(dir, 'pgbouncer.ini')], {
    ...(owner ?? {}),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    const client = new Client({ connectionString: url.toString() });
    const up = await client.connect().then(
      () => client.query('SELECT 1').then(() => true),
      () => false,
    );
    await client.end().catch(() => undefined);
    if (up) return { url: url.toString(), stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`pgbouncer did not start:\n${output}`);
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}
