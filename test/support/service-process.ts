import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once the process has exited, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal to the process, or to its whole process group as a terminal's Ctrl-C does. */
  signal(signal: NodeJS.Signals, options?: { group?: boolean }): void;
}

export interface ServiceOptions {
  env: Record<string, string | undefined>;
  /** Working directory; the entry point is `<cwd>/dist/src/main.js` when given, else this checkout's. */
  cwd?: string;
  uid?: number;
  gid?: number;
  /** How long to wait for the HTTP port to answer. */
  startTimeoutMs?: number;
}

/**
 * The built service as its own OS process group, answering on a fresh port. The environment is exactly `env`
 * plus PATH and PORT, so nothing leaks in from the test's own process.
 */
export async function startServiceProcess(options: ServiceOptions): Promise<ServiceProcess> {
  const port = await freePort();
  const main = options.cwd ? join(options.cwd, 'dist', 'src', 'main.js') : MAIN;
  const env = Object.fromEntries(Object.entries(options.env).filter(([, value]) => value !== undefined));
  const child = spawn(process.execPath, [main], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, ...env, PORT: String(port) },
    uid: options.uid,
    gid: options.gid,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const service: ServiceProcess = {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    signal: (signal, { group = false } = {}) => {
      try {
        process.kill(group ? -child.pid! : child.pid!, signal);
      } catch {
        // already gone
      }
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
  service.signal('SIGKILL', { group: true });
  throw new Error(`the service did not start on port ${port}:\n${output.slice(-3000)}`);
}
