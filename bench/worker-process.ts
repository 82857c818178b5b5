import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The built service's entry point (npm run bench:campaign builds it first). */
const MAIN = join(__dirname, '..', 'src', 'main.js');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const TICK_MS = 10; // USER_HZ is 100 on Linux

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
  });
}

/**
 * One queue-mode delivery worker as its own OS process (`APP_ROLE=worker node dist/src/main.js`, as
 * `npm run start:worker` runs it), with the same heap cap as `npm start`. Ready once GET /health answers 200.
 */
export class WorkerProcess {
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    const keep = (chunk: Buffer) => {
      // Only the tail: enough to say why a worker died, bounded whatever it logs.
      this.output = (this.output + chunk.toString()).slice(-8_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  static async start(env: Record<string, string>, nodeArgs: string[] = []): Promise<WorkerProcess> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
    const port = await freePort();
    const child = spawn(process.execPath, ['--max-old-space-size=192', ...nodeArgs, MAIN], {
      env: { PATH: process.env.PATH, ...env, APP_ROLE: 'worker', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const worker = new WorkerProcess(child, port);
    await worker.waitHealthy();
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Peak RSS of the process so far (VmHWM), in MB. */
  peakRssMb(): number {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))![1]) / 1024;
  }

  /** CPU time the process used so far (user + system), in ms. */
  cpuMs(): number {
    return processCpuMs(this.pid);
  }

  /** GET /metrics, in the Prometheus text format. */
  async metrics(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    if (!response.ok) throw new Error(`worker ${this.pid}: /metrics answered ${response.status}`);
    return response.text();
  }

  /** SIGTERM (the worker finishes what it holds and exits), SIGKILL if it has not exited in time. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`a worker exited with code ${this.child.exitCode} while starting:\n${this.output}`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.port}/health`);
        if (response.status === 200) return;
        last = `${response.status} ${await response.text()}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(250);
    }
    await this.stop();
    throw new Error(`a worker did not answer /health with 200 within ${START_TIMEOUT_MS / 1000} s (last: ${last}):\n${this.output}`);
  }
}

/** CPU time a process used so far (user + system), in ms, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** A Prometheus histogram's cumulative buckets, `le` → count, summed over several scrapes (one per worker). */
export function sumHistogramBuckets(texts: string[], metric: string, labels: Record<string, string>): Map<number, number> {
  const buckets = new Map<number, number>();
  const line = new RegExp(`^${metric}_bucket\\{([^}]*)\\} (\\S+)$`);
  for (const text of texts) {
    for (const row of text.split('\n')) {
      const match = line.exec(row);
      if (!match) continue;
      const pairs = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
      if (Object.entries(labels).some(([k, v]) => pairs[k] !== v)) continue;
      const le = pairs.le === '+Inf' ? Infinity : Number(pairs.le);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
    }
  }
  return buckets;
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside its bucket (as Prometheus'
 * histogram_quantile does): only as exact as the bucket bounds. Null without observations; the last finite
 * bound when the quantile falls in +Inf.
 */
export function histogramQuantile(q: number, buckets: Map<number, number>): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

/** The sum of a counter (every label set) over several scrapes. */
export function sumCounter(texts: string[], metric: string, labels: Record<string, string> = {}): number {
  const line = new RegExp(`^${metric}(?:\\{([^}]*)\\})? (\\S+)$`);
  let total = 0;
  for (const text of texts) {
    for (const row of text.split('\n')) {
      const match = line.exec(row);
      if (!match) continue;
      const pairs = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
      if (Object.entries(labels).some(([k, v]) => pairs[k] !== v)) continue;
      total += Number(match[2]);
    }
  }
  return total;
}
