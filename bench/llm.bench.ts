import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module';
import { AppConfig } from '../src/config/app-config';
import { validateEnvironment } from '../src/config/environment';
import { dataSourceOptions } from '../src/database/data-source-options';
import { seedDemoData } from '../src/database/demo-seed';
import { runMigrationsUnderLock } from '../src/database/migrate';
import { CampaignService } from '../src/jobs/campaign.service';
import { JobTrigger } from '../src/jobs/job-run.entity';
import { PrepareService } from '../src/jobs/prepare.service';
import { costUsd } from '../src/messaging/llm.metrics';
import { Channel } from '../src/messaging/message.types';
import { insertCustomers } from '../test/support/customers';
import { FakeOpenAiServer } from '../test/support/fake-openai.server';

const USAGE = `npm run bench:llm -- [options]
  --customers N        customers due for a reminder (default 2000)
  --latency-ms MS      how long the local OpenAI-compatible server takes to answer (default 3000)
  --rpm R              requests per minute the server enforces, and OPENAI_RPM (default 600)
  --budget B           OPENAI_RPM instead of R; 0 runs without a budget, for comparison (the client's own retries)
  --concurrency C      OPENAI_CONCURRENCY (default: enough for the budget at that latency, plus 20%)
  --database-url URL   Postgres server (default $BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres);
                       the bench creates and drops its own database there
  --database NAME      that database's name (default smartengage_llm_bench)`;

/**
 * A campaign of N customers whose prose the LLM writes, against a local server that answers after a latency and
 * enforces an RPM with 429s and x-ratelimit-* headers, as OpenAI does; OPENAI_RPM is set to the same budget.
 * Prints the achieved rate against the budget, 429s, the LLM share, fallbacks, wall time, tokens and cost; the
 * last line is one JSON object. Then the same customers twice more, each time as if not messaged yet: a campaign
 * with templates only (no LLM configured), and a campaign after a prepare (through the Batch API, which the local
 * server answers at once) whose send phase alone is timed; prepared_vs_template compares the two send rates.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string', default: '2000' },
      'latency-ms': { type: 'string', default: '3000' },
      rpm: { type: 'string', default: '600' },
      concurrency: { type: 'string' },
      budget: { type: 'string' },
      'database-url': { type: 'string', default: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres' },
      database: { type: 'string', default: 'smartengage_llm_bench' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const customers = Number(values.customers);
  const latencyMs = Number(values['latency-ms']);
  const rpm = Number(values.rpm);
  const budget = values.budget === undefined ? rpm : Number(values.budget);
  const concurrency = values.concurrency ? Number(values.concurrency) : Math.ceil(((rpm / 60) * latencyMs * 1.2) / 1000) + 1;
  const database = values.database!;
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error('--database must be a plain lower-case name');
  const serverUrl = values['database-url']!;
  const benchUrl = new URL(serverUrl);
  benchUrl.pathname = `/${database}`;

  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  const fake = new FakeOpenAiServer();
  const outbox = mkdtempSync(join(tmpdir(), 'smartengage-llm-bench-'));
  try {
    const data = new DataSource(dataSourceOptions(benchUrl.toString()));
    await data.initialize();
    await runMigrationsUnderLock(data);
    await seedDemoData(data);
    await insertCustomers(data, { count: customers, daysAgo: 25, tag: 'llm-bench' });
    await data.destroy();

    await fake.start();
    fake.enforce({ rpm, latencyMs });
    // This process's environment with the bench's settings on top, as a value; in-process budget (no Redis).
    const raw: Record<string, string | undefined> = {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: benchUrl.toString(),
      MIGRATIONS_RUN: 'false',
      OUTBOX_DIR: outbox,
      CAMPAIGN_SCHEDULER_ENABLED: 'false',
      ADMIN_API_KEYS: 'bench',
      JWT_SECRET: 'bench-jwt-secret-0123456789abcdef',
      LOG_LEVEL: 'warn',
      OPENAI_API_KEY: 'bench-key',
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_RPM: String(budget),
      OPENAI_CONCURRENCY: String(concurrency),
      OPENAI_DEADLINE_SECONDS: String(Math.max(15, Math.ceil((latencyMs * 3) / 1000))),
      OPENAI_TIMEOUT_SECONDS: String(Math.max(20, Math.ceil((latencyMs * 2) / 1000))),
    };
    delete raw.REDIS_URL;
    const config = new AppConfig(validateEnvironment(raw));
    console.log(
      `LLM campaign: ${customers} customers (+3 demo), server ${rpm} RPM at ${latencyMs} ms, ` +
        `OPENAI_RPM ${budget || 'not set'}, OPENAI_CONCURRENCY ${concurrency}`,
    );

    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
    let sendRates: { template: number; prepared: number; preparedDrafted: number; preparedLlm: number; preparedRequests: number };
    try {
      const campaigns = app.get(CampaignService);
      const started = performance.now();
      const plan = await campaigns.plan({ sendWindowStart: 0, sendWindowEnd: 24, batchSize: 1000, channel: Channel.Email });
      const outcome = await campaigns.run(plan, JobTrigger.Manual);
      const wallS = (performance.now() - started) / 1000;
      if (outcome.kind !== 'ran' || outcome.report.status !== 'DONE') throw new Error(`the campaign did not finish: ${JSON.stringify(outcome)}`);
      const jobRunId = outcome.report.jobRunId;

      const appData = app.get(DataSource);
      const rows: { generator: string; reason: string | null; n: number }[] = await appData.query(
        `SELECT generator, fallback_reason AS reason, count(*)::int AS n FROM ai_messages WHERE job_run_id = $1 GROUP BY 1, 2`,
        [jobRunId],
      );
      const [usage] = await appData.query(
        `SELECT coalesce(sum(prompt_tokens), 0)::int AS input, coalesce(sum(cached_tokens), 0)::int AS cached_input,
                coalesce(sum(completion_tokens), 0)::int AS output
           FROM ai_messages WHERE job_run_id = $1`,
        [jobRunId],
      );
      const messages = rows.reduce((sum, row) => sum + row.n, 0);
      const llm = rows.filter((row) => row.generator === 'openai').reduce((sum, row) => sum + row.n, 0);
      const fallbacks = Object.fromEntries(rows.filter((row) => row.reason).map((row) => [row.reason, row.n]));
      const admitted = fake.admittedAt;
      const requests = admitted.length + fake.rateLimited;
      const spanMs = admitted.length > 1 ? admitted[admitted.length - 1] - admitted[0] : 0;
      const rpmAchieved = spanMs > 0 ? ((admitted.length - 1) * 60_000) / spanMs : 0;
      const cost = costUsd({ input: usage.input, cachedInput: usage.cached_input, output: usage.output }, config.openai.pricePerMtok);

      console.log(`  wall ${wallS.toFixed(1)} s, ${messages} messages, ${llm} LLM-written (${((100 * llm) / messages).toFixed(1)}%)`);
      console.log(`  LLM requests ${requests}: ${admitted.length} answered, ${fake.rateLimited} 429 (${((100 * fake.rateLimited) / Math.max(1, requests)).toFixed(2)}%)`);
      console.log(`  achieved ${rpmAchieved.toFixed(1)} RPM of ${rpm} (${((100 * rpmAchieved) / rpm).toFixed(1)}%), first to last answered request`);
      console.log(`  fallbacks ${JSON.stringify(fallbacks)}; tokens in ${usage.input}, cached ${usage.cached_input}, out ${usage.output}; cost $${cost.toFixed(6)}`);
      // The same customers again, as if never messaged: templates only, then prepared drafts.
      const templateConfig = new AppConfig(validateEnvironment({ ...raw, OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined }));
      // Each twice, alternating, the faster of the two counted: a run of a few seconds on a shared machine is noisy.
      const templateRuns: SendRun[] = [];
      const preparedRuns: SendRun[] = [];
      const preparedConfig = new AppConfig(
        validateEnvironment({
          ...raw,
          OPENAI_BATCH: 'true',
          OPENAI_BATCH_POLL_SECONDS: '0.1',
          CAMPAIGN_SEND_WINDOW_START: '0',
          CAMPAIGN_SEND_WINDOW_END: '24',
        }),
      );
      const before = fake.requests.length;
      for (let round = 0; round < SEND_ROUNDS; round++) {
        templateRuns.push(await timedSend(templateConfig));
        preparedRuns.push(await timedSend(preparedConfig, true));
      }
      const fastest = (runs: SendRun[]) => runs.reduce((best, run) => (run.perSecond > best.perSecond ? run : best));
      const template = fastest(templateRuns);
      const prepared = fastest(preparedRuns);
      sendRates = {
        template: template.perSecond,
        prepared: prepared.perSecond,
        preparedDrafted: prepared.drafted,
        preparedLlm: prepared.llm,
        // Live calls at send time over every prepared round: 0 when every prepared draft was used.
        preparedRequests: fake.requests.length - before,
      };
      const ratio = sendRates.prepared / Math.max(1e-9, sendRates.template);
      const rates = (runs: SendRun[]) => runs.map((run) => run.perSecond.toFixed(1)).join(', ');
      console.log(`  templates only: send ${sendRates.template.toFixed(1)} customers/s (best of ${rates(templateRuns)})`);
      console.log(
        `  prepared: ${sendRates.preparedDrafted} drafts through the Batch API; send ${sendRates.prepared.toFixed(1)} customers/s ` +
          `(best of ${rates(preparedRuns)}; ${(100 * ratio).toFixed(1)}% of the template rate), ${sendRates.preparedLlm} LLM-written, ${sendRates.preparedRequests} live LLM calls at send`,
      );
      console.log(
        JSON.stringify({
          customers: messages,
          rpm_budget: rpm,
          rpm_achieved: round(rpmAchieved, 1),
          rpm_utilisation: round(rpmAchieved / rpm, 3),
          requests,
          rate_limited: fake.rateLimited,
          rate_limited_share: round(fake.rateLimited / Math.max(1, requests), 4),
          llm_share: round(llm / Math.max(1, messages), 4),
          fallbacks,
          wall_s: round(wallS, 1),
          tokens: { input: usage.input, cached_input: usage.cached_input, output: usage.output },
          cost_usd: round(cost, 6),
          template_send_per_s: round(sendRates.template, 1),
          prepared_send_per_s: round(sendRates.prepared, 1),
          prepared_vs_template: round(ratio, 3),
        }),
      );
    } finally {
      await app.close();
    }
  } finally {
    await fake.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    rmSync(outbox, { recursive: true, force: true });
  }
}

const SEND_ROUNDS = 2;

interface SendRun {
  perSecond: number;
  drafted: number;
  llm: number;
}

/**
 * One campaign over every customer in a fresh application with `config`, after forgetting earlier messages and
 * runs (and, with `prepare`, after preparing its drafts): the send phase's customers per second.
 */
async function timedSend(config: AppConfig, prepare = false): Promise<SendRun> {
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
  try {
    const data = app.get(DataSource);
    await data.query('TRUNCATE ai_messages, job_runs, prepared_drafts CASCADE');
    await data.query('UPDATE customers SET last_message_at = NULL');
    let drafted = 0;
    if (prepare) {
      const prepares = app.get(PrepareService);
      const started = await prepares.start(await prepares.plan({ channel: Channel.Email }), JobTrigger.Manual);
      if (started.kind !== 'started') throw new Error(`the prepare did not start: ${started.kind}`);
      await started.done;
      const [run] = await data.query('SELECT status, sent, error FROM job_runs WHERE id = $1', [started.row.id]);
      if (run.status !== 'DONE') throw new Error(`the prepare ended ${run.status}: ${run.error}`);
      drafted = run.sent;
    }
    const campaigns = app.get(CampaignService);
    const plan = await campaigns.plan({ sendWindowStart: 0, sendWindowEnd: 24, batchSize: 1000, channel: Channel.Email });
    const started = performance.now();
    const outcome = await campaigns.run(plan, JobTrigger.Manual);
    const seconds = (performance.now() - started) / 1000;
    if (outcome.kind !== 'ran' || outcome.report.status !== 'DONE') throw new Error(`the campaign did not finish: ${JSON.stringify(outcome)}`);
    const [{ sent, llm }] = await data.query(
      `SELECT count(*) FILTER (WHERE delivery_status = 'sent')::int AS sent, count(*) FILTER (WHERE generator = 'openai')::int AS llm
         FROM ai_messages WHERE job_run_id = $1`,
      [outcome.report.jobRunId],
    );
    return { perSecond: sent / seconds, drafted, llm };
  } finally {
    await app.close();
  }
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
