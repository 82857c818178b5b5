import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module';
import { AppConfig } from '../src/config/app-config';
import { validateEnvironment } from '../src/config/environment';
import { dataSourceOptions } from '../src/database/data-source-options';
import { runMigrationsUnderLock } from '../src/database/migrate';
import { CAMPAIGN_PRESETS, CampaignPreset } from '../src/jobs/campaign-presets';
import { CampaignService } from '../src/jobs/campaign.service';
import { JobTrigger } from '../src/jobs/job-run.entity';
import { Metric } from '../src/metrics/metric-names';
import { Channel } from '../src/messaging/message.types';
import { EligibilityCriteria } from '../src/segmentation/eligible-customer.repository';
import { loadBenchData, resetCampaignState } from './bench-data';
import { CpuProfiler, summariseProfile } from './cpu-profile';
import { DEAD_LLM_MODES, DeadLlmMode, startDeadLlm } from './dead-llm';
import { coresBusy, cpuSnapshot, RssSampler } from './resource-monitor';
import { QueueFigures, QueueRun } from './queue-run';
import { measureSegmentation, stats } from './segmentation-bench';
import { combineLimits, measureSendLimit, SendLimit } from './send-limit';
import type { SinkReport, SinkRequest } from './smtp-sink';

const DEFAULT_DATABASE = 'smartengage_bench';
const DAY_MS = 86_400_000;
const BATCH_SIZE = 1000;
const PROGRESS_EVERY_MS = 10_000;

const USAGE = `npm run bench:campaign -- [options]
  --customers N               customers to generate (default 100000)
  --bookings-per-customer K   bookings per customer (default 10)
  --database-url URL          Postgres server to use (default $BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres);
                              the bench creates and drops its own database there (see --database)
  --database NAME             name of that database (default ${DEFAULT_DATABASE}); give another name to run beside another bench
  --keep                      keep the database afterwards
  --reuse                     reuse a kept database holding the same N and K: skip the load, undo the last campaign
  --concurrency C             CAMPAIGN_CONCURRENCY for the run (default 20, the service's default)
  --smtp-options QUERY        extra nodemailer options in SMTP_URL's query, e.g. "maxConnections=10&maxMessages=1000"
  --pages P                   keyset pages to time (default 50)
  --send-limit-messages M     messages for the raw send limit, half before the first campaign and half after (default 5000)
  --skip-campaign             stop after segmentation (for large N); the JSON then has null rates
  --cpu-profile FILE          write a V8 CPU profile of the campaign phase to FILE and print its top functions
  --dead-llm hang|refuse      after the template campaign, run it again with OPENAI_API_KEY set and the LLM dead
                              (hang: accepts and never answers; refuse: nothing listens) and compare the rates;
                              OPENAI_DEADLINE_SECONDS / OPENAI_BREAKER_* / OPENAI_MAX_RETRIES pass through from the environment
  --rounds R                  with --dead-llm: R pairs of campaigns in alternating order (template, dead, dead, template, ...),
                              so that other load on the machine weighs on both paths alike (default 1)
  --queue                     after the in-process campaign, run it again in queue mode: this process is the producer
                              (APP_ROLE=api, REDIS_URL set, a fresh REDIS_KEY_PREFIX) and --workers K worker processes
                              (APP_ROLE=worker node dist/src/main.js, WORKER_CONCURRENCY = --concurrency) deliver
  --workers K[,K...]          with --queue: worker processes, or a list for one queue campaign per count (default 1);
                              QUEUE_MAX_PENDING passes through from the environment
  --redis-url URL             with --queue: Redis to use (default $BENCH_REDIS_URL or redis://127.0.0.1:6379); the bench
                              writes only under its own bench-<random>: prefix and deletes those keys afterwards
  --worker-cpu-prof DIR       with --queue: start the workers with --cpu-prof, profiles written to DIR as they exit
  --reject-once PCT           with --queue: run the first queue campaign again with the sink answering 421 to the first
                              message of PCT % of the recipients (0-100, e.g. 1), and print its rate against the run without`;

interface Options {
  customers: number;
  bookingsPerCustomer: number;
  serverUrl: string;
  keep: boolean;
  reuse: boolean;
  concurrency: number;
  smtpOptions: string;
  pages: number;
  sendLimitMessages: number;
  cpuProfile: string | null;
  skipCampaign: boolean;
  deadLlm: DeadLlmMode | null;
  rounds: number;
  database: string;
  queue: boolean;
  workers: number[];
  redisUrl: string;
  workerCpuProf: string | null;
  /** With --queue: the share of recipients (%) whose first message the sink answers 421, for a second run. */
  rejectOnce: number | null;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string', default: '100000' },
      'bookings-per-customer': { type: 'string', default: '10' },
      'database-url': { type: 'string', default: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
      reuse: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '20' },
      'smtp-options': { type: 'string', default: '' },
      pages: { type: 'string', default: '50' },
      'send-limit-messages': { type: 'string', default: '5000' },
      'cpu-profile': { type: 'string' },
      'skip-campaign': { type: 'boolean', default: false },
      'dead-llm': { type: 'string' },
      database: { type: 'string', default: DEFAULT_DATABASE },
      rounds: { type: 'string', default: '1' },
      queue: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379' },
      'worker-cpu-prof': { type: 'string' },
      'reject-once': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, raw: string, max = Number.MAX_SAFE_INTEGER) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be an integer from 1 to ${max}, got ${raw}`);
    return value;
  };
  const deadLlm = values['dead-llm'] ?? null;
  if (deadLlm !== null && !DEAD_LLM_MODES.includes(deadLlm as DeadLlmMode)) {
    throw new Error(`--dead-llm must be one of ${DEAD_LLM_MODES.join(', ')}, got ${deadLlm}`);
  }
  const database = values.database!;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`--database must be a lower-case SQL identifier, got ${database}`);
  const workers = values.workers!.split(',').map((count) => positive('workers', count.trim(), 16));
  if (!values.queue && (values.workers !== '1' || values['worker-cpu-prof'] || values['reject-once'])) {
    throw new Error('--workers, --worker-cpu-prof and --reject-once need --queue');
  }
  const rejectOnce = values['reject-once'] === undefined ? null : Number(values['reject-once']);
  if (rejectOnce !== null && !(rejectOnce > 0 && rejectOnce <= 100)) throw new Error(`--reject-once must be a percentage above 0, up to 100, got ${values['reject-once']}`);
  return {
    database,
    queue: values.queue!,
    workers,
    redisUrl: values['redis-url']!,
    workerCpuProf: values['worker-cpu-prof'] ?? null,
    rejectOnce,
    deadLlm: deadLlm as DeadLlmMode | null,
    rounds: positive('rounds', values.rounds!, 10),
    customers: positive('customers', values.customers!),
    bookingsPerCustomer: positive('bookings-per-customer', values['bookings-per-customer']!, 1000),
    serverUrl: values['database-url']!,
    keep: values.keep! || values.reuse!,
    reuse: values.reuse!,
    concurrency: positive('concurrency', values.concurrency!, 200),
    smtpOptions: values['smtp-options']!.replace(/^[?&]/, ''),
    pages: positive('pages', values.pages!),
    sendLimitMessages: positive('send-limit-messages', values['send-limit-messages']!),
    cpuProfile: values['cpu-profile'] ?? null,
    skipCampaign: values['skip-campaign']!,
  };
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const seconds = (fromMs: number) => (performance.now() - fromMs) / 1000;
const round1 = (value: number) => Math.round(value * 10) / 10;
const fmt = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 1 });

/** Creates the bench database, or reuses a kept one that holds the same data shape. Returns whether it must be loaded. */
async function prepareDatabase(options: Options): Promise<boolean> {
  const admin = new Client({ connectionString: options.serverUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (rowCount && options.reuse) {
      const bench = new Client({ connectionString: databaseUrl(options.serverUrl, options.database) });
      await bench.connect();
      try {
        const { rows } = await bench.query(
          `SELECT (SELECT count(*) FROM customers)::bigint AS customers, (SELECT count(*) FROM bookings)::bigint AS bookings`,
        );
        const expected = options.customers * options.bookingsPerCustomer;
        if (Number(rows[0].customers) === options.customers && Number(rows[0].bookings) === expected) return false;
        console.log(`--reuse: ${options.database} holds ${rows[0].customers} customers / ${rows[0].bookings} bookings; reloading`);
      } catch {
        console.log(`--reuse: ${options.database} is not a loaded bench database; reloading`);
      } finally {
        await bench.end();
      }
    }
    await admin.query(`DROP DATABASE IF EXISTS ${options.database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${options.database}`);
    return true;
  } finally {
    await admin.end();
  }
}

async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** The SMTP sink in a child process, and a way to ask it for its counters. */
class SinkProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<SinkProcess> {
    const child = fork(join(__dirname, 'smtp-sink.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(() => {
        throw new Error('the SMTP sink exited before listening');
      }),
    ])) as [SinkReport];
    if (message.type !== 'ready') throw new Error(`unexpected message from the SMTP sink: ${JSON.stringify(message)}`);
    return new SinkProcess(child, message.port);
  }

  /** From now on the first message to `percent` % of the recipients is answered 421 (0: none). */
  rejectOnce(percent: number): void {
    this.child.send({ type: 'reject-once', percent } satisfies SinkRequest);
  }

  async stats(): Promise<{ received: number; rejected: number; cpuMs: number }> {
    const reply = new Promise<SinkReport>((resolve) => {
      const onMessage = (message: SinkReport) => {
        if (message.type !== 'stats') return;
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
    });
    this.child.send({ type: 'stats' } satisfies SinkRequest);
    const message = (await reply) as Extract<SinkReport, { type: 'stats' }>;
    return { received: message.received, rejected: message.rejected, cpuMs: message.cpuMs };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'stop' } satisfies SinkRequest);
    const timer = setTimeout(() => this.child.kill(), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** SMTP_URL of the sink: the service's pool, plus --smtp-options. */
function sinkUrl(sinkPort: number, options: Options): string {
  const query = ['pool=true', options.smtpOptions].filter(Boolean).join('&');
  return `smtp://127.0.0.1:${sinkPort}?${query}`;
}

/** The settings every process of the bench runs with: the bench database, the sink, no scheduler, quiet logs. */
function serviceEnv(benchUrl: string, sinkPort: number, options: Options): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: benchUrl,
    MIGRATIONS_RUN: 'false',
    SMTP_URL: sinkUrl(sinkPort, options),
    CAMPAIGN_SCHEDULER_ENABLED: 'false',
    CAMPAIGN_CONCURRENCY: String(options.concurrency),
    ADMIN_API_KEYS: 'bench',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdef',
    LOG_LEVEL: 'warn',
  };
}

/** Where a queue-mode run keeps its jobs: the bench's Redis, under a prefix of this run's own. */
interface QueueTarget {
  redisUrl: string;
  keyPrefix: string;
}

/**
 * Boots the real application (no HTTP listener) in this process. With `queue`, as queue mode's producer
 * (APP_ROLE=api): the campaign adds jobs and worker processes deliver them.
 */
async function bootApp(
  benchUrl: string,
  sinkPort: number,
  options: Options,
  { llmBaseUrl, queue }: { llmBaseUrl?: string; queue?: QueueTarget } = {},
): Promise<INestApplicationContext> {
  const env: Record<string, string | undefined> = {
    ...serviceEnv(benchUrl, sinkPort, options),
    OPENAI_API_KEY: llmBaseUrl ? 'bench-dead-llm-key' : undefined,
    OPENAI_BASE_URL: llmBaseUrl,
    REDIS_URL: queue?.redisUrl,
    REDIS_KEY_PREFIX: queue?.keyPrefix,
    APP_ROLE: queue ? 'api' : undefined,
  };
  // This process's environment with the bench's settings on top (undefined: unset), as a value.
  const raw: Record<string, string | undefined> = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete raw[key];
    else raw[key] = value;
  }
  const config = new AppConfig(validateEnvironment(raw));
  return NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
}

/** Figures of one campaign run. */
interface CampaignFigures {
  sent: number;
  messagesPerS: number;
  rowsPerS: number;
  peakRss: number;
  wall: number;
  /** CPU this process used during the campaign, in ms. */
  appCpuMs: number;
  /** With `sendLimit`: the raw send limit measured around this campaign, and the app's CPU per message in it. */
  limit?: SendLimit;
  cpuMsPerMessage?: number;
  /** Queue mode: the producer is this process; the workers' side of the run. */
  queue?: QueueFigures;
}

/**
 * One real campaign through the application, into the SMTP sink; with `llmBaseUrl`, drafts ask that LLM
 * first. `profile` writes the CPU profile of --cpu-profile. `sendLimit` also measures the raw send limit in the
 * same app, half before the campaign and half after, so a change in the machine's load hits both. `workers`
 * runs it in queue mode: this process produces, that many worker processes deliver.
 */
async function runCampaign(
  label: string,
  benchUrl: string,
  sink: SinkProcess,
  options: Options,
  rss: RssSampler,
  { llmBaseUrl, profile: profiled, sendLimit, workers }: { llmBaseUrl?: string; profile: boolean; sendLimit?: boolean; workers?: number },
): Promise<CampaignFigures> {
  const queueRun = workers ? new QueueRun(options.redisUrl, workers) : null;
  let app: INestApplicationContext | null = null;
  try {
    if (queueRun) {
      await queueRun.start(serviceEnv(benchUrl, sink.port, options), options.concurrency, options.workerCpuProf);
      console.log(`  ${workers} worker process(es) up (pids ${queueRun.pids.join(', ')}), Redis key prefix ${queueRun.keyPrefix}`);
    }
    app = await bootApp(benchUrl, sink.port, options, {
      llmBaseUrl,
      queue: queueRun ? { redisUrl: queueRun.redisUrl, keyPrefix: queueRun.keyPrefix } : undefined,
    });
    const campaigns = app.get(CampaignService);
    const appData = app.get(DataSource);
    const measureLimit = (messages: number) =>
      measureSendLimit(app!, sinkUrl(sink.port, options), { messages, concurrency: options.concurrency });
    const limitBefore = sendLimit ? await measureLimit(Math.ceil(options.sendLimitMessages / 2)) : null;
    global.gc?.();
    const rssAtStart = rss.phase();
    const cpuBefore = cpuSnapshot();
    const sinkBefore = await sink.stats();
    const profiler = profiled && options.cpuProfile ? new CpuProfiler() : null;
    await profiler?.start();
    await queueRun?.beginCampaign();

    const started = performance.now();
    const progress = setInterval(() => {
      void sink.stats().then((now) => {
        const received = now.received - sinkBefore.received;
        const elapsed = seconds(started);
        console.log(
          `  ... ${elapsed.toFixed(0)} s: ${fmt(received)} messages received (${Math.round(received / elapsed)}/s), ` +
            `RSS ${rss.phasePeakMb.toFixed(0)} MB peak`,
        );
      });
    }, PROGRESS_EVERY_MS);
    let outcome;
    try {
      const plan = await campaigns.plan({ sendWindowStart: 0, sendWindowEnd: 24, batchSize: BATCH_SIZE, channel: Channel.Email });
      outcome = await campaigns.run(plan, JobTrigger.Manual);
    } finally {
      clearInterval(progress);
    }
    const wall = seconds(started);
    const cpuAfter = cpuSnapshot();
    const queue = await queueRun?.endCampaign();
    const profile = profiler ? await profiler.stop(options.cpuProfile!) : null;
    const peakRss = rss.phasePeakMb;

    if (outcome.kind !== 'ran') throw new Error(`the campaign did not run: ${JSON.stringify(outcome)}`);
    const { report } = outcome;
    if (report.status !== 'DONE') throw new Error(`the campaign failed: ${report.error}`);
    const { counts } = report;
    const sinkAfter = await sink.stats();
    const received = sinkAfter.received - sinkBefore.received;
    const [written] = await appData.query(
      `SELECT count(*)::int AS rows, count(*) FILTER (WHERE delivery_status = 'sent')::int AS sent FROM ai_messages WHERE job_run_id = $1`,
      [report.jobRunId],
    );

    const messagesPerS = counts.sent / wall;
    const rowsPerS = (3 * written.rows) / wall;
    const cores = coresBusy(cpuBefore, cpuAfter);
    const sinkCores = (sinkAfter.cpuMs - sinkBefore.cpuMs) / (cpuAfter.at - cpuBefore.at);
    console.log(
      `Campaign (${label}): ${fmt(counts.totalEligible)} eligible, ${fmt(counts.processed)} processed, ${fmt(counts.sent)} sent, ` +
        `${fmt(counts.failed)} failed, ${fmt(counts.skipped)} skipped in ${wall.toFixed(1)} s (concurrency ${options.concurrency})`,
    );
    console.log(`  messages/s end to end: ${fmt(messagesPerS)} (sent / wall time of plan + run)`);
    console.log(
      `  rows/s: ${fmt(rowsPerS)} ai_messages rows written per second (${fmt(written.rows)} rows x 3: the claim inserts each, ` +
        `the sending mark and the delivery record update it; besides, each claim updates customers.last_message_at and each page updates job_runs)`,
    );
    console.log(
      `  SMTP sink received ${fmt(received)} messages; ai_messages marked sent: ${fmt(written.sent)}; ` +
        `${received === counts.sent && written.sent === counts.sent ? 'both match sent' : 'MISMATCH with sent'}`,
    );
    const coreText = (value: number | null) => (value === null ? 'n/a' : value.toFixed(2));
    const span = cpuAfter.at - cpuBefore.at;
    const workerCores = queue
      ? `, ${queue.workers} worker(s) ${coreText(queue.workerCpuMs / span)}, Redis ${coreText(queue.redisCpuMs === null ? null : queue.redisCpuMs / span)}`
      : '';
    console.log(
      `  CPU, in cores busy on average (2 on this machine): bench/app process${queue ? ' (producer)' : ''} ${coreText(cores.node)}${workerCores}, ` +
        `Postgres ${coreText(cores.postgres)}, SMTP sink ${coreText(sinkCores)}, whole machine ${coreText(cores.machine)}`,
    );
    console.log(
      `  RSS: ${rssAtStart.toFixed(0)} MB at the start of the campaign, ${peakRss.toFixed(0)} MB peak` +
        `${queue ? ' in the producer' : ''} (${rss.overallPeakMb.toFixed(0)} MB peak over the whole bench)`,
    );
    if (queue) {
      const appCpuMs = cpuAfter.nodeMs - cpuBefore.nodeMs;
      console.log(
        `  workers: peak RSS (VmHWM) ${queue.workerPeakRssMb.map((mb) => `${mb.toFixed(0)} MB`).join(', ')}; ` +
          `CPU per message ${(queue.workerCpuMs / counts.sent).toFixed(2)} ms in the workers + ${(appCpuMs / counts.sent).toFixed(2)} ms in the producer` +
          `${queue.redisCpuMs === null ? '' : ` + ${(queue.redisCpuMs / counts.sent).toFixed(2)} ms in Redis`}; ` +
          `attempts ${Object.entries(queue.attempts).map(([outcome, n]) => `${outcome} ${fmt(n)}`).join(', ')}`,
      );
      console.log(
        `  Redis used_memory: ${queue.redisPeakMb.toFixed(1)} MB peak, ${queue.redisAddedMb.toFixed(1)} MB above its value before the campaign ` +
          `(sampled every 250 ms; Redis is shared)`,
      );
      const p99 = queue.p99EnqueueToSentMs;
      console.log(
        `  enqueue → sent p99: ${p99 === null ? 'n/a' : `${fmt(p99)} ms`} over ${fmt(queue.latencyObservations)} sends ` +
          `(the workers' ${Metric.DeliveryQueueLatency} buckets summed, interpolated inside its bucket: bucket resolution)`,
      );
    }
    if (profile) {
      console.log(`CPU profile of the campaign phase written to ${options.cpuProfile}`);
      summariseProfile(profile).forEach((line) => console.log(line));
    }
    let limitFigures = {};
    if (limitBefore) {
      const limitAfter = await measureLimit(Math.floor(options.sendLimitMessages / 2));
      const limit = combineLimits(limitBefore, limitAfter);
      console.log(
        `Send limit: ${fmt(limit.perSecond)} messages/s (${fmt(limitBefore.perSecond)} before the campaign, ${fmt(limitAfter.perSecond)} ` +
          `after; nodemailer with the service's transport and mail options, ${options.concurrency} in flight, ` +
          `${fmt(limit.bytes)}-byte message, no database)`,
      );
      const cpuMsPerMessage = (cpuAfter.nodeMs - cpuBefore.nodeMs) / counts.sent;
      console.log(`  ratio of the campaign's messages/s to the send limit: ${(messagesPerS / limit.perSecond).toFixed(2)}`);
      console.log(
        `  app CPU per message: ${cpuMsPerMessage.toFixed(2)} ms in the campaign, ${limit.cpuMs.toFixed(2)} ms for the raw send ` +
          `(ratio ${(limit.cpuMs / cpuMsPerMessage).toFixed(2)}; steadier than the rates when other work shares the machine)`,
      );
      limitFigures = { limit, cpuMsPerMessage };
    }
    if (received !== counts.sent || written.sent !== counts.sent) {
      throw new Error(`the sink received ${received} and ai_messages has ${written.sent} sent, but the run counted ${counts.sent}`);
    }
    const appCpuMs = cpuAfter.nodeMs - cpuBefore.nodeMs;
    return { sent: counts.sent, messagesPerS, rowsPerS, peakRss, wall, appCpuMs, queue, ...limitFigures };
  } finally {
    // The producer first (it stops waiting for outcomes), then the workers, then the run's Redis keys.
    await app?.close().catch((error: unknown) => console.error(`closing the app: ${error}`));
    await queueRun?.close().catch((error: unknown) => console.error(`stopping the workers: ${error}`));
  }
}

/** Undoes the last campaign, so the next one finds the same customers eligible. */
async function resetBenchState(benchUrl: string): Promise<void> {
  const dataSource = new DataSource(dataSourceOptions(benchUrl, 1));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await resetCampaignState(runner);
  } finally {
    await runner.release();
    await dataSource.destroy();
  }
}

/** The same campaign again from a clean campaign state: on the template path, or with OPENAI_API_KEY set and the LLM dead. */
async function rerunCampaign(
  mode: DeadLlmMode | null,
  benchUrl: string,
  sink: SinkProcess,
  options: Options,
  rss: RssSampler,
): Promise<CampaignFigures> {
  await resetBenchState(benchUrl);
  if (!mode) return runCampaign('template', benchUrl, sink, options, rss, { profile: false });
  const llm = await startDeadLlm(mode);
  try {
    return await runCampaign(`dead LLM: ${mode}`, benchUrl, sink, options, rss, { llmBaseUrl: llm.baseUrl, profile: false });
  } finally {
    await llm.close();
  }
}

/** One queue-mode run as the JSON line reports it. */
interface QueueSummary {
  workers: number;
  messages_per_s: number;
  ratio: number;
  vs_one_process: number;
  redis_peak_mb: number;
  redis_added_mb: number;
  p99_enqueue_to_sent_ms: number | null;
  /** Max over the producer and every worker; then each side's own. */
  rss_peak_mb: number;
  producer_rss_peak_mb: number;
  worker_rss_peak_mb: number;
  /** Producer and workers together. */
  cpu_ms_per_message: number;
  redis_cpu_ms_per_message: number | null;
}

function summariseQueueRun(run: CampaignFigures, inProcessPerS: number, limitPerS: number): QueueSummary {
  const queue = run.queue!;
  const workerPeak = Math.max(...queue.workerPeakRssMb);
  const round2 = (value: number) => Math.round(value * 100) / 100;
  return {
    workers: queue.workers,
    messages_per_s: Math.round(run.messagesPerS),
    ratio: round2(run.messagesPerS / limitPerS),
    vs_one_process: round2(run.messagesPerS / inProcessPerS),
    redis_peak_mb: round1(queue.redisPeakMb),
    redis_added_mb: round1(queue.redisAddedMb),
    p99_enqueue_to_sent_ms: queue.p99EnqueueToSentMs === null ? null : Math.round(queue.p99EnqueueToSentMs),
    rss_peak_mb: Math.round(Math.max(run.peakRss, workerPeak)),
    producer_rss_peak_mb: Math.round(run.peakRss),
    worker_rss_peak_mb: Math.round(workerPeak),
    cpu_ms_per_message: round2((run.appCpuMs + queue.workerCpuMs) / run.sent),
    redis_cpu_ms_per_message: queue.redisCpuMs === null ? null : round2(queue.redisCpuMs / run.sent),
  };
}

function printQueueTable(rows: QueueSummary[], inProcessPerS: number, limitPerS: number, inProcessRss: number): void {
  console.log(`Queue mode against one process (in-process ${fmt(inProcessPerS)} messages/s, send limit ${fmt(limitPerS)}/s, ${inProcessRss.toFixed(0)} MB RSS):`);
  const header = ['workers', 'messages/s', 'ratio', 'vs 1 process', 'Redis peak MB (added)', 'p99 enqueue→sent ms', 'RSS peak MB producer / worker', 'CPU ms/msg (+ Redis)'];
  const lines = rows.map((row) => [
    String(row.workers),
    fmt(row.messages_per_s),
    row.ratio.toFixed(2),
    row.vs_one_process.toFixed(2),
    `${row.redis_peak_mb.toFixed(1)} (${row.redis_added_mb.toFixed(1)})`,
    row.p99_enqueue_to_sent_ms === null ? 'n/a' : fmt(row.p99_enqueue_to_sent_ms),
    `${row.producer_rss_peak_mb} / ${row.worker_rss_peak_mb}`,
    `${row.cpu_ms_per_message.toFixed(2)}${row.redis_cpu_ms_per_message === null ? '' : ` (+ ${row.redis_cpu_ms_per_message.toFixed(2)})`}`,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)));
  for (const line of [header, ...lines]) console.log(`  ${line.map((cell, i) => cell.padStart(widths[i])).join('  ')}`);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const benchUrl = databaseUrl(options.serverUrl, options.database);
  const rss = new RssSampler(100);
  rss.start();
  console.log(
    `Campaign bench: ${fmt(options.customers)} customers x ${options.bookingsPerCustomer} bookings, ` +
      `database ${options.database} on ${new URL(options.serverUrl).host}, concurrency ${options.concurrency}`,
  );

  let dataSource: DataSource | null = null;
  let sink: SinkProcess | null = null;
  let created = false;
  try {
    // 1. Schema and data.
    const mustLoad = await prepareDatabase(options);
    created = true;
    dataSource = new DataSource(dataSourceOptions(benchUrl, 2));
    await dataSource.initialize();
    await runMigrationsUnderLock(dataSource);
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      const loadStarted = performance.now();
      if (mustLoad) {
        let stepStarted = performance.now();
        await loadBenchData(runner, options, (label) => {
          console.log(`  load: ${label} (${seconds(stepStarted).toFixed(1)} s)`);
          stepStarted = performance.now();
        });
        console.log(`Load: ${seconds(loadStarted).toFixed(1)} s for ${fmt(options.customers)} customers and ${fmt(options.customers * options.bookingsPerCustomer)} bookings`);
      } else {
        await resetCampaignState(runner);
        console.log(`Load: reused the kept database; campaign state reset in ${seconds(loadStarted).toFixed(1)} s`);
      }
    } finally {
      await runner.release();
    }
    const [sizes] = await dataSource.query(
      `SELECT pg_size_pretty(pg_database_size(current_database())) AS db,
              pg_size_pretty(pg_relation_size('customers_segment_idx')) AS segment_idx`,
    );
    console.log(`  database ${sizes.db}, customers_segment_idx ${sizes.segment_idx}`);

    // 2. Segmentation, with the default campaign's criteria and the default frequency cap.
    const defaults = new AppConfig(validateEnvironment({}));
    const now = new Date();
    const criteria: EligibilityCriteria = {
      channel: Channel.Email,
      bookedBefore: new Date(now.getTime() - CAMPAIGN_PRESETS[CampaignPreset.Default].bookingCadenceDays * DAY_MS),
      messagedBefore: new Date(now.getTime() - defaults.frequencyCap.windowDays * DAY_MS),
      now,
    };
    const segmentation = await measureSegmentation(dataSource, criteria, { countRuns: 5, pages: options.pages, pageSize: BATCH_SIZE });
    const count = stats(segmentation.countMs);
    const page = stats(segmentation.pageMs);
    console.log(
      `Segmentation: ${fmt(segmentation.eligible)} eligible of ${fmt(options.customers)}; countEligible median ${count.median.toFixed(1)} ms ` +
        `(min ${count.min.toFixed(1)}, max ${count.max.toFixed(1)}, 5 runs)`,
    );
    console.log(
      `  keyset page of ${BATCH_SIZE}: median ${page.median.toFixed(2)} ms, p95 ${page.p95.toFixed(2)} ms, max ${page.max.toFixed(2)} ms ` +
        `(${segmentation.pageMs.length} pages, ${fmt(segmentation.pageRows)} rows, walked from the start)`,
    );
    console.log('  plans (EXPLAIN ANALYZE, BUFFERS):');
    segmentation.planLines.forEach((line) => console.log(line));
    await dataSource.destroy();
    dataSource = null;
    const segmentationFigures = {
      customers: options.customers,
      eligible: segmentation.eligible,
      segmentation_ms: round1(count.median),
      segmentation_page_ms: Math.round(page.median * 100) / 100,
    };
    if (options.skipCampaign) {
      console.log('Campaign: skipped (--skip-campaign)');
      const peak = Math.round(rss.overallPeakMb);
      console.log(JSON.stringify({ ...segmentationFigures, messages_per_s: null, rows_per_s: null, peak_rss_mb: peak }));
      return;
    }

    // 3. One real campaign through the application, into the SMTP sink.
    sink = await SinkProcess.start();
    const template = await runCampaign('template', benchUrl, sink, options, rss, { profile: true, sendLimit: true });
    const { messagesPerS, rowsPerS, peakRss, limit, cpuMsPerMessage } = template;

    // 4. With --dead-llm, the same campaign while the LLM is dead: the deadline and breaker should keep its pace.
    let deadLlmFigures = {};
    if (options.deadLlm) {
      const runs: Record<'template' | 'dead', CampaignFigures[]> = { template: [template], dead: [] };
      // Pairs alternate their order (T D, D T, T D, ...): a machine growing busier or quieter weighs on both.
      const order = Array.from({ length: options.rounds }, (_, round) => (round % 2 ? ['dead', 'template'] : ['template', 'dead']))
        .flat()
        .slice(1) as ('template' | 'dead')[];
      for (const kind of order) {
        runs[kind].push(await rerunCampaign(kind === 'dead' ? options.deadLlm : null, benchUrl, sink, options, rss));
      }
      const rate = (figures: CampaignFigures[]) =>
        figures.reduce((sum, run) => sum + run.sent, 0) / figures.reduce((sum, run) => sum + run.wall, 0);
      const [templateRate, deadRate] = [rate(runs.template), rate(runs.dead)];
      const ratio = deadRate / templateRate;
      console.log(
        `Dead LLM (${options.deadLlm}): ${fmt(deadRate)} messages/s vs ${fmt(templateRate)} on the template path ` +
          `(${runs.dead.length} campaigns each, all sent / all wall time): ${(ratio * 100).toFixed(1)}% of its rate`,
      );
      deadLlmFigures = {
        dead_llm: options.deadLlm,
        rounds: options.rounds,
        template_messages_per_s: Math.round(templateRate),
        dead_llm_messages_per_s: Math.round(deadRate),
        dead_llm_ratio: Math.round(ratio * 1000) / 1000,
      };
    }
    // 5. With --queue, the same campaign in queue mode, once per worker count, against the in-process one above.
    const queueFigures: QueueSummary[] = [];
    if (options.queue) {
      for (const workers of options.workers) {
        await resetBenchState(benchUrl);
        const run = await runCampaign(`queue mode, ${workers} worker process(es)`, benchUrl, sink, options, rss, { profile: false, workers });
        queueFigures.push(summariseQueueRun(run, messagesPerS, limit!.perSecond));
      }
      printQueueTable(queueFigures, messagesPerS, limit!.perSecond, peakRss);
    }
    // 6. With --reject-once, the first queue campaign again with the provider answering 421 now and then: a job
    // waiting for its retry must not hold up the rest (pages overlap; one 421 does not stop every worker).
    let rejectOnceFigures = {};
    if (options.rejectOnce !== null) {
      const [workers] = options.workers;
      await resetBenchState(benchUrl);
      sink.rejectOnce(options.rejectOnce);
      const before = await sink.stats();
      const run = await runCampaign(`queue mode, ${workers} worker process(es), 421 once to ${options.rejectOnce}%`, benchUrl, sink, options, rss, {
        profile: false,
        workers,
      });
      const rejected = (await sink.stats()).rejected - before.rejected;
      sink.rejectOnce(0);
      const ratio = run.messagesPerS / queueFigures[0].messages_per_s;
      console.log(
        `421 once to ${options.rejectOnce}% of the recipients (${fmt(rejected)} answered 421, all retried): ${fmt(run.messagesPerS)} messages/s ` +
          `vs ${fmt(queueFigures[0].messages_per_s)} without, ratio ${ratio.toFixed(2)}`,
      );
      rejectOnceFigures = {
        reject_once: { percent: options.rejectOnce, rejected, messages_per_s: Math.round(run.messagesPerS), ratio: Math.round(ratio * 100) / 100 },
      };
    }
    console.log(
      JSON.stringify({
        ...segmentationFigures,
        messages_per_s: Math.round(messagesPerS),
        send_limit_per_s: Math.round(limit!.perSecond),
        ratio: Math.round((messagesPerS / limit!.perSecond) * 100) / 100,
        cpu_ms_per_message: Math.round(cpuMsPerMessage! * 100) / 100,
        send_cpu_ms_per_message: Math.round(limit!.cpuMs * 100) / 100,
        rows_per_s: Math.round(rowsPerS),
        peak_rss_mb: Math.round(peakRss),
        ...deadLlmFigures,
        ...rejectOnceFigures,
        ...(options.queue
          ? { workers: options.workers.length === 1 ? options.workers[0] : options.workers, queue: queueFigures }
          : {}),
      }),
    );
  } finally {
    rss.stop();
    await dataSource?.destroy().catch(() => undefined);
    await sink?.stop().catch(() => undefined);
    if (created && !options.keep) await dropDatabase(options.serverUrl, options.database);
  }
}

main().catch((error: unknown) => {
  console.error('bench:campaign failed:', error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
