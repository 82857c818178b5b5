import { readdirSync, readFileSync } from 'node:fs';

const MB = 1024 * 1024;

/** Samples this process's RSS on a timer; `phase()` starts a new peak without losing the overall one. */
export class RssSampler {
  private timer: NodeJS.Timeout | null = null;
  private overallPeak = 0;
  private phasePeak = 0;
  samples = 0;

  constructor(private readonly intervalMs = 100) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Begins a measured phase; returns the RSS at its start, in MB. */
  phase(): number {
    this.phasePeak = 0;
    return this.sample();
  }

  get phasePeakMb(): number {
    return this.phasePeak / MB;
  }

  get overallPeakMb(): number {
    return this.overallPeak / MB;
  }

  private sample(): number {
    const rss = process.memoryUsage().rss;
    this.samples++;
    if (rss > this.phasePeak) this.phasePeak = rss;
    if (rss > this.overallPeak) this.overallPeak = rss;
    return rss / MB;
  }
}

/** CPU time in ms, read from the kernel: this process, every local `postgres` process, and the whole machine. */
export interface CpuSnapshot {
  at: number;
  nodeMs: number;
  postgresMs: number | null;
  machineBusyMs: number | null;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

function postgresCpuMs(): number | null {
  try {
    let total = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
    }
    return total;
  } catch {
    return null;
  }
}

function machineBusyMs(): number | null {
  try {
    const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
    const [user, nice, system, , , irq, softirq, steal] = cpu.split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + steal) * TICK_MS;
  } catch {
    return null;
  }
}

export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    nodeMs: (usage.user + usage.system) / 1000,
    postgresMs: postgresCpuMs(),
    machineBusyMs: machineBusyMs(),
  };
}

/** Cores busy on average between two snapshots (1.0 = one core the whole time). */
export function coresBusy(from: CpuSnapshot, to: CpuSnapshot): { node: number; postgres: number | null; machine: number | null } {
  const wall = to.at - from.at;
  const per = (a: number | null, b: number | null) => (a === null || b === null || wall <= 0 ? null : (b - a) / wall);
  return {
    node: (to.nodeMs - from.nodeMs) / wall,
    postgres: per(from.postgresMs, to.postgresMs),
    machine: per(from.machineBusyMs, to.machineBusyMs),
  };
}
