import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_KEY, auth, JWT_SECRET } from './test-app';

/** The built entry point of this checkout (npm test builds it first). */
export const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  url: string;
  stdout(): string;
  stderr(): string;
  /** Everything the process wrote to stdout and stderr so far, in arrival order. */
  output(): string;
  /** Resolves once the process has exited, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal to the process, or to its whole process group as a terminal's Ctrl-C does. */
  signal(signal: NodeJS.Signals, options?: { group?: boolean }): void;
  /** SIGTERM, then SIGKILL to the group if it has not exited within 10 s. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** The process's whole environment (PATH is added when missing); PORT is set from `port`. */
  env: Record<string, string | undefined>;
  /** Defaults to a free port. */
  port?: number;
  /** Working directory; the entry point is `<cwd>/dist/src/main.js` when given, else this checkout's. */
  cwd?: string;
  uid?: number;
  gid?: number;
  /** How long to wait for the HTTP port to answer. */
  startTimeoutMs?: number;
}

/** The built service as its own OS process (and process group), once it answers HTTP. */
export async function startServiceProcess(options: ServiceOptions): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const main = options.cwd ? join(options.cwd, 'dist', 'src', 'main.js') : MAIN;
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm test does)`);
  const env = Object.fromEntries(Object.entries(options.env).filter(([, value]) => value !== undefined));
  const child = spawn(process.execPath, [main], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, ...env, PORT: String(port) },
    uid: options.uid,
    gid: options.gid,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => (out.push(chunk), all.push(chunk)));
  child.stderr!.on('data', (chunk: Buffer) => (err.push(chunk), all.push(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const signal = (name: NodeJS.Signals, { group = false } = {}) => {
    try {
      process.kill(group ? -child.pid! : child.pid!, name);
    } catch {
      // already gone
    }
  };
  const service: ServiceProcess = {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    output: () => Buffer.concat(all).toString('utf8'),
    exited,
    signal,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL', { group: true }), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let done = false;
  void exited.then(() => (done = true));
  while (Date.now() < deadline && !done) {
    const up = await fetch(`${service.url}/health`).then((r) => r.status > 0, () => false);
    if (up) return service;
    await sleep(100);
  }
  signal('SIGKILL', { group: true });
  throw new Error(`the service did not start on port ${port}:\n${service.output().slice(-3000)}`);
}

/** The built service configured as the e2e apps are (test keys, own outbox, no scheduler), plus `env`. */
export const startService = (env: Record<string, string | undefined> = {}): Promise<ServiceProcess> =>
  startServiceProcess({
    env: {
      ...process.env,
      NODE_ENV: 'test',
      ADMIN_API_KEYS: ADMIN_KEY,
      JWT_SECRET,
      OUTBOX_DIR: mkdtempSync(join(tmpdir(), 'smartengage-child-')),
      CAMPAIGN_SCHEDULER_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      NO_COLOR: '1',
      ...env,
    },
  });

/** POST /internal/ai/smartengage/run-segment to a service process with the admin key; the status and JSON body. */
export async function runSegment(service: ServiceProcess, body: object): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${service.url}/internal/ai/smartengage/run-segment`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
