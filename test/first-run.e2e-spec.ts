import { execFileSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { DEMO } from '../src/database/demo-seed';
import { embeddedDatabaseUrl, readServerState, SHARED_ROOT } from '../src/database/embedded-postgres';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';

const CHECKOUT = join(__dirname, '..');
const BOOT_TIMEOUT_MS = 120_000;

/** What a new user has after `npm ci && npm run build`: dist, package.json and node_modules, nothing configured. */
function copyBuiltProject(target: string): void {
  cpSync(join(CHECKOUT, 'dist'), join(target, 'dist'), { recursive: true });
  cpSync(join(CHECKOUT, 'package.json'), join(target, 'package.json'));
  try {
    // Hard links: a full copy's speed without its 400 MB; the directories are still new ones under `target`.
    execFileSync('cp', ['-al', join(CHECKOUT, 'node_modules'), join(target, 'node_modules')]);
  } catch {
    cpSync(join(CHECKOUT, 'node_modules'), join(target, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  }
}

interface User {
  name: string;
  uid?: number;
  gid?: number;
}

/** Root (CI) covers the failing case and an ordinary user; anyone else is the ordinary user themselves. */
function users(): User[] {
  if (process.getuid?.() !== 0) return [{ name: 'the current user' }];
  const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  return [{ name: 'root' }, { name: 'an ordinary user (nobody)', uid: id('-u'), gid: id('-g') }];
}

describe.each(users())('npm start with nothing configured, as $name, from a private 0700 directory', (user) => {
  let home: string;
  let app: string;
  const running: ServiceProcess[] = [];

  const start = async () => {
    const service = await startServiceProcess({
      cwd: app,
      uid: user.uid,
      gid: user.gid,
      env: { HOME: home, NODE_ENV: 'development', CAMPAIGN_SCHEDULER_ENABLED: 'false', LOG_LEVEL: 'log' },
      startTimeoutMs: BOOT_TIMEOUT_MS,
    });
    running.push(service);
    return service;
  };
  const embeddedDir = () => join(app, '.data', 'postgres');
  const dataDir = () => readServerState(embeddedDir())!.dataDir;
  /** The server's URL as server.json and the stored password give it, on `database`. */
  const databaseUrl = (database = 'smartengage') => {
    const url = new URL(embeddedDatabaseUrl(embeddedDir())!);
    url.pathname = `/${database}`;
    return url.toString();
  };

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'smartengage-first-run-')); // mode 0700, like /root
    app = join(home, 'smartengage');
    copyBuiltProject(app);
    if (user.uid !== undefined) {
      chownSync(home, user.uid, user.gid!);
      chownSync(app, user.uid, user.gid!);
    }
  });

  afterAll(async () => {
    for (const service of running) service.signal('SIGKILL', { group: true });
    const state = readServerState(embeddedDir());
    if (state) {
      killCluster(state.dataDir);
    }
    if (state?.dataDir.startsWith(SHARED_ROOT)) rmSync(dirname(state.dataDir), { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }, 30_000);

  it(
    'boots with the embedded database and demo data, and sends a reminder',
    async () => {
      const service = await start();
      expect(service.output()).toContain('SmartEngage listening');
      await expect(fetch(`${service.url}/health`).then((r) => r.status)).resolves.toBe(200);

      const res = await fetch(`${service.url}/admin/smartengage/send-single`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          customer_id: DEMO.customers.regular,
          message_type: 'reminder',
          service_id: DEMO.services.homeCleaning,
        }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ success: true, channel: 'EMAIL' });

      // The cluster has its own password, readable by its owner only; the old fixed one is refused.
      const passwordFile = join(dirname(dataDir()), 'password');
      expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
      expect(new URL(databaseUrl()).password).not.toBe('smartengage');
      await expect(serverAnswers(databaseUrl('postgres'))).resolves.toBe(true);
      const legacy = new URL(databaseUrl('postgres'));
      legacy.password = 'smartengage';
      await expect(serverAnswers(legacy.toString())).resolves.toBe(false);

      // The log says where the data is, and server.json agrees.
      expect(service.output()).toContain(`data in ${dataDir()}`);
      if (user.uid === undefined && process.getuid?.() === 0) {
        // The postgres OS user cannot reach a 0700 home, so the cluster lives under SHARED_ROOT.
        expect(dataDir().startsWith(SHARED_ROOT)).toBe(true);
      } else {
        expect(dataDir()).toBe(join(embeddedDir(), 'data'));
      }
    },
    BOOT_TIMEOUT_MS,
  );

  it(
    'lets a second start join the running database',
    async () => {
      const second = await start();
      expect(second.output()).toContain('Using the embedded Postgres already running');
      await expect(fetch(`${second.url}/health`).then((r) => r.status)).resolves.toBe(200);
      second.signal('SIGINT');
      await second.exited;
      // The first process still has its database.
      await expect(fetch(`${running[0].url}/health`).then((r) => r.status)).resolves.toBe(200);
    },
    BOOT_TIMEOUT_MS,
  );

  it(
    'stops on Ctrl-C, database included, and starts again with the data kept',
    async () => {
      const first = running[0];
      const { port } = readServerState(embeddedDir())!;
      first.signal('SIGINT', { group: true });
      // The service stops its database after its own shutdown, then exits as a Ctrl-C'd program does.
      await expect(first.exited).resolves.toEqual({ code: null, signal: 'SIGINT' });
      expect(first.output()).toContain('Shutting down on SIGINT');
      await expect(serverAnswers(urlOnPort(databaseUrl('postgres'), port))).resolves.toBe(false);
      expect(existsSync(join(dataDir(), 'postmaster.pid'))).toBe(false);

      const again = await start();
      expect(await sentMessages()).toBe(1);
      again.signal('SIGTERM');
      await expect(again.exited).resolves.toEqual({ code: null, signal: 'SIGTERM' });
      await expect(serverAnswers(databaseUrl('postgres'))).resolves.toBe(false);
    },
    BOOT_TIMEOUT_MS,
  );

  it(
    'starts after a killed run left a stale server.json and postmaster.pid behind',
    async () => {
      const killed = await start();
      const { port } = readServerState(embeddedDir())!;
      killed.signal('SIGKILL', { group: true }); // the service and its database, as a crash or an OOM kill would
      await killed.exited;
      killCluster(dataDir());
      const url = urlOnPort(databaseUrl('postgres'), port);
      await waitFor('the killed database to stop answering', async () => !(await serverAnswers(url)), 15_000);
      // The pid in postmaster.pid now belongs to another live program, as after a reboot or in a container.
      const pidFile = join(dataDir(), 'postmaster.pid');
      expect(existsSync(pidFile)).toBe(true);
      const lines = readFileSync(pidFile, 'utf8').split('\n');
      lines[0] = String(process.pid);
      writeFileSync(pidFile, lines.join('\n'));

      const restarted = await start();
      await expect(fetch(`${restarted.url}/health`).then((r) => r.status)).resolves.toBe(200);
      expect(await sentMessages()).toBe(1);
    },
    BOOT_TIMEOUT_MS,
  );

  it(
    'gives a cluster made with the old fixed password its own password at its next start, keeping the data',
    async () => {
      const client = new Client({ connectionString: databaseUrl('postgres') });
      await client.connect();
      await client.query(`ALTER ROLE postgres PASSWORD 'smartengage'`);
      await client.end();
      for (const service of running.filter(({ child }) => child.exitCode === null && child.signalCode === null)) {
        service.signal('SIGINT', { group: true });
        await service.exited;
      }
      rmSync(join(dirname(dataDir()), 'password'));

      const service = await start();
      expect(service.output()).toContain('it now has its own');
      const rotated = new URL(databaseUrl());
      expect(rotated.password).not.toBe('smartengage');
      expect(await sentMessages()).toBe(1);
      rotated.password = 'smartengage';
      await expect(serverAnswers(rotated.toString())).resolves.toBe(false);
    },
    BOOT_TIMEOUT_MS,
  );

  async function sentMessages(): Promise<number> {
    const client = new Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ai_messages WHERE delivery_status = 'sent'`);
      return rows[0].n;
    } finally {
      await client.end();
    }
  }
});

/** SIGKILLs every server process of a cluster, backends included. */
function killCluster(dataDir: string): void {
  try {
    execFileSync('pkill', ['-KILL', '-f', '--', `-D ${dataDir}`], { stdio: 'ignore' });
  } catch {
    // none left
  }
}

function urlOnPort(url: string, port: number): string {
  const moved = new URL(url);
  moved.port = String(port);
  return moved.toString();
}

async function serverAnswers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

