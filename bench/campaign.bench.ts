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
import { Channel } from '../src/messaging/message.types';
import { SegmentCriteria } from '../src/segmentation/segment.repository';
import { loadBenchData, resetCampaignState } from './bench-data';
import { CpuProfiler, summariseProfile } from './cpu-profile';
import { DEAD_LLM_MODES, DeadLlmMode, startDeadLlm } from './dead-llm';
import { coresBusy, cpuSnapshot, RssSampler } from './resource-monitor';
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
                              so that other load on the machine weighs on both paths alike (default 1)`;

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
  return {
    database,
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

  async stats(): Promise<{ received: number; cpuMs: number }> {
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
    return { received: message.received, cpuMs: message.cpuMs };
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

/** Boots the real application (no HTTP listener) against the bench database and the sink; the LLM only when given. */
function sinkUrl(sinkPort: number, options: Options): string {
  const query = ['pool=true', options.smtpOptions].filter(Boolean).join('&');
  return `smtp://127.0.0.1:${sinkPort}?${query}`;
}

async function bootApp(benchUrl: string, sinkPort: number, options: Options, llmBaseUrl?: string): Promise<INestApplicationContext> {
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    DATABASE_URL: benchUrl,
    MIGRATIONS_RUN: 'false',
    SMTP_URL: sinkUrl(sinkPort, options),
    CAMPAIGN_SCHEDULER_ENABLED: 'false',
    CAMPAIGN_CONCURRENCY: String(options.concurrency),
    ADMIN_API_KEYS: 'bench',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdef',
    LOG_LEVEL: 'warn',
    OPENAI_API_KEY: llmBaseUrl ? 'bench-dead-llm-key' : undefined,
    OPENAI_BASE_URL: llmBaseUrl,
  };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return NestFactory.createApplicationContext(AppModule.forRoot(), { logger: ['error', 'warn'] });
}

/** Figures of one campaign run. */
interface CampaignFigures {
  sent: number;
  messagesPerS: number;
  rowsPerS: number;
  peakRss: number;
  wall: number;
  /** With `sendLimit`: the raw send limit measured around this campaign, and the app's CPU per message in it. */
  limit?: SendLimit;
  cpuMsPerMessage?: number;
}

/**
 * One real campaign through the application, into the SMTP sink; with `llmBaseUrl`, drafts ask that LLM
 * first. `profile` writes the CPU profile of --cpu-profile. `sendLimit` also measures the raw send limit in the
 * same app, half before the campaign and half after, so a change in the machine's load hits both.
 */
async function runCampaign(
  label: string,
  benchUrl: string,
  sink: SinkProcess,
  options: Options,
  rss: RssSampler,
  { llmBaseUrl, profile: profiled, sendLimit }: { llmBaseUrl?: string; profile: boolean; sendLimit?: boolean },
): Promise<CampaignFigures> {
  const app = await bootApp(benchUrl, sink.port, options, llmBaseUrl);
  try {
    const campaigns = app.get(CampaignService);
    const appData = app.get(DataSource);
    const measureLimit = (messages: number) =>
      measureSendLimit(app, sinkUrl(sink.port, options), { messages, concurrency: options.concurrency });
    const limitBefore = sendLimit ? await measureLimit(Math.ceil(options.sendLimitMessages / 2)) : null;
    global.gc?.();
    const rssAtStart = rss.phase();
    const cpuBefore = cpuSnapshot();
    const sinkBefore = await sink.stats();
    const profiler = profiled && options.cpuProfile ? new CpuProfiler() : null;
    await profiler?.start();

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
    console.log(
      `  CPU, in cores busy on average (2 on this machine): bench/app process ${coreText(cores.node)}, ` +
        `Postgres ${coreText(cores.postgres)}, SMTP sink ${coreText(sinkCores)}, whole machine ${coreText(cores.machine)}`,
    );
    console.log(`  RSS: ${rssAtStart.toFixed(0)} MB at the start of the campaign, ${peakRss.toFixed(0)} MB peak (${rss.overallPeakMb.toFixed(0)} MB peak over the whole bench)`);
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
    return { sent: counts.sent, messagesPerS, rowsPerS, peakRss, wall, ...limitFigures };
  } finally {
    await app.close().catch((error: unknown) => console.error(`closing the app: ${error}`));
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
  if (!mode) return runCampaign('template', benchUrl, sink, options, rss, { profile: false });
  const llm = await startDeadLlm(mode);
  try {
    return await runCampaign(`dead LLM: ${mode}`, benchUrl, sink, options, rss, { llmBaseUrl: llm.baseUrl, profile: false });
  } finally {
    await llm.close();
  }
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
    const criteria: SegmentCriteria = {
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
