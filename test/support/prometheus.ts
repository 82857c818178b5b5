import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const SCRAPE_JOB = 'smartengage';

/** Runs a Prometheus CLI tool (Debian's `prometheus` package); fails, never skips, when it is not installed. */
export function runTool(command: 'promtool' | 'prometheus', args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync(command, args, { input, encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`${command} is not installed: apt-get install prometheus (.ci/run does)`);
  }
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A port nothing listens on: bound once, then released. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PrometheusResult {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  /** An instant query; rejects when Prometheus answers with an error (a bad expression, say). */
  query(expr: string): Promise<PrometheusResult[]>;
  get<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * A real Prometheus server scraping `target` (host:port) every 2 seconds as job SCRAPE_JOB and evaluating
 * `ruleFiles` every second, with its data in a temporary directory.
 */
export async function startPrometheus(target: string, ruleFiles: string[]): Promise<RunningPrometheus> {
  runTool('prometheus', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'smartengage-prometheus-'));
  const config = {
    // Two seconds: a scrape that runs a due health check or job_runs query on a busy CI machine still fits.
    global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: SCRAPE_JOB, static_configs: [{ targets: [target] }] }],
  };
  // JSON is YAML.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config));
  const port = await unusedPort();
  const base = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk) => (log += chunk));
  child.stderr?.on('data', (chunk) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const close = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error}`);
    return body.data;
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
    const ready = await fetch(`${base}/-/ready`).then((res) => res.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`prometheus was not ready within 20 s: ${log}`);
    }
    await sleep(200);
  }
  return {
    get,
    close,
    query: async (expr) => (await get<{ result: PrometheusResult[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
  };
}
