import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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
  url: string;
  /** Everything the process wrote so far (empty unless started with capture). */
  stdout: () => string;
  stderr: () => string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  stop: () => Promise<void>;
}

/** The built service (`node dist/src/main.js`) as its own OS process, once it answers HTTP. */
export async function startService(
  port: number,
  env: NodeJS.ProcessEnv,
  options: { capture?: boolean } = {},
): Promise<ServiceProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  const child = spawn(process.execPath, [MAIN], { env: { ...env, PORT: String(port) }, stdio: options.capture ? 'pipe' : 'ignore' });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const service: ServiceProcess = {
    child,
    url: `http://127.0.0.1:${port}`,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    const up = await fetch(`${service.url}/docs-json`).then((r) => r.ok, () => false);
    if (up) return service;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`the service did not start:\n${service.stdout()}\n${service.stderr()}`);
}
