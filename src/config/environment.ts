import { plainToInstance, Transform } from 'class-transformer';
import { validateCronExpression } from 'cron';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsPositive, IsString, IsUrl, Matches, Max, MaxLength, Min, MinLength, ValidationError, validateSync } from 'class-validator';
import { isIP } from 'node:net';
import {
  estimatedEntropyBits,
  isHeaderSafe,
  isPublishedValue,
  MIN_PRODUCTION_ADMIN_KEY_BITS,
  MIN_PRODUCTION_ADMIN_KEY_LENGTH,
  MIN_PRODUCTION_JWT_SECRET_BYTES,
} from './secret-strength';
import { smtpUrlProblem } from './smtp-url';

const toBoolean = ({ value }: { value: unknown }) => {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  return value;
};
const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : value;
const toNumber = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : /^-?\d+(\.\d+)?$/.test(String(value).trim()) ? Number(value) : value;
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/** The process environment as the service understands it; every variable is optional unless noted. */
export class EnvironmentVariables {
  @IsOptional()
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8000;

  /** Required in production; without it the service runs an embedded Postgres under .data/. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'MIGRATIONS_RUN must be true or false' })
  MIGRATIONS_RUN = true;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(16, { message: 'JWT_SECRET must be at least 16 characters' })
  JWT_SECRET?: string;

  /** Comma-separated bearer keys for /admin and /internal routes; in production each at least 32 characters. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  ADMIN_API_KEYS?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^smtps?:\/\/.+/, { message: 'SMTP_URL must be an smtp:// or smtps:// URL' })
  SMTP_URL?: string;

  /** Pooled SMTP connections kept open. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  SMTP_MAX_CONNECTIONS = 10;

  @IsOptional()
  @IsString()
  MAIL_FROM = 'ShoktiAI <no-reply@smartengage.example.com>';

  @IsOptional()
  @IsString()
  OUTBOX_DIR = '.data/outbox';

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  OPENAI_API_KEY?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsUrl({ require_tld: false, require_protocol: true }, { message: 'OPENAI_BASE_URL must be an http(s) URL' })
  OPENAI_BASE_URL?: string;

  @IsOptional()
  @IsString()
  OPENAI_MODEL = 'gpt-4o-mini';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(300)
  OPENAI_TIMEOUT_SECONDS = 20;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10)
  OPENAI_MAX_RETRIES = 2;

  /** Bound on one whole draft, the client's retries and their waits included; then the template is used. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(300)
  OPENAI_DEADLINE_SECONDS = 15;

  /** Consecutive failed LLM calls that open the circuit breaker. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  OPENAI_BREAKER_FAILURES = 5;

  /** How long an open breaker skips the LLM before letting one trial call through. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  OPENAI_BREAKER_COOLDOWN_SECONDS = 30;

  /** LLM requests per minute, shared by every process on REDIS_URL; 0 = not enforced. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  OPENAI_RPM = 0;

  /** LLM tokens (prompt + completion) per minute, shared like OPENAI_RPM; 0 = not enforced. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  OPENAI_TPM = 0;

  /** LLM requests in flight at once in this process, apart from the send slots. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  OPENAI_CONCURRENCY = 30;

  /** USD per million input tokens, for ai_llm_cost_usd_total (gpt-4o-mini's price by default). */
  @IsOptional()
  @Transform(toNumber)
  @IsNumber()
  @Min(0)
  OPENAI_PRICE_INPUT_PER_MTOK = 0.15;

  @IsOptional()
  @Transform(toNumber)
  @IsNumber()
  @Min(0)
  OPENAI_PRICE_CACHED_INPUT_PER_MTOK = 0.075;

  @IsOptional()
  @Transform(toNumber)
  @IsNumber()
  @Min(0)
  OPENAI_PRICE_OUTPUT_PER_MTOK = 0.6;

  /** Prepare drafts through the Batch API (half price, answered within 24 h) instead of live calls. */
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'OPENAI_BATCH must be true or false' })
  OPENAI_BATCH = false;

  /** How often a prepare asks whether its batches have ended. */
  @IsOptional()
  @Transform(toNumber)
  @IsNumber({}, { message: 'OPENAI_BATCH_POLL_SECONDS must be a number' })
  @Min(0.05, { message: 'OPENAI_BATCH_POLL_SECONDS must be at least 0.05' })
  @Max(3600, { message: 'OPENAI_BATCH_POLL_SECONDS must be at most 3600' })
  OPENAI_BATCH_POLL_SECONDS = 60;

  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true }, { message: 'BOOKING_BASE_URL must be an http(s) URL' })
  BOOKING_BASE_URL = 'https://app.sheba.xyz/book';

  /** Where this service is reachable from a customer's mail client (unsubscribe links). */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true }, { message: 'PUBLIC_BASE_URL must be an http(s) URL' })
  PUBLIC_BASE_URL = 'http://localhost:8000';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(720)
  DEFAULT_TTL_HOURS = 48;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  FREQUENCY_CAP_MAX_MESSAGES = 1;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(365)
  FREQUENCY_CAP_WINDOW_DAYS = 7;

  /** HTTP SMS gateway; without it SMS are written to the outbox. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsUrl({ require_tld: false, require_protocol: true }, { message: 'SMS_GATEWAY_URL must be an http(s) URL' })
  SMS_GATEWAY_URL?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  SMS_GATEWAY_API_KEY?: string;

  @IsOptional()
  @IsString()
  SMS_SENDER_ID = 'ShoktiAI';

  /**
   * Key of the HMAC-SHA256 signature on POST /webhooks/sms/inbound (the gateway's forwarded replies, for STOP);
   * without it that route answers 404.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(16, { message: 'SMS_INBOUND_SECRET must be at least 16 characters' })
  SMS_INBOUND_SECRET?: string;

  /** Most parts one generated SMS may take. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10)
  SMS_MAX_SEGMENTS = 2;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(120_000)
  SMS_GATEWAY_TIMEOUT_MS = 10_000;

  /** No promotional SMS from this local hour (CAMPAIGN_TIMEZONE)... */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(23)
  SMS_QUIET_HOURS_START = 0;

  /** ...until this one. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(24)
  SMS_QUIET_HOURS_END = 8;

  /** Send email booking links through /r/<code> so clicks are recorded (SMS links always are). */
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'EMAIL_CLICK_TRACKING must be true or false' })
  EMAIL_CLICK_TRACKING = false;

  /** Add a 1x1 open-tracking image to email HTML. */
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'EMAIL_OPEN_TRACKING must be true or false' })
  EMAIL_OPEN_TRACKING = false;

  /** When the daily campaign starts, as a cron expression in UTC. */
  @IsOptional()
  @IsString()
  CAMPAIGN_CRON = '0 9 * * *';

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'CAMPAIGN_SCHEDULER_ENABLED must be true or false' })
  CAMPAIGN_SCHEDULER_ENABLED = true;

  /** When drafts for the next campaign are prepared, as a cron expression in UTC; unset = never on a schedule. */
  @IsOptional()
  @IsString()
  CAMPAIGN_PREPARE_CRON?: string;
  /** An experiment's key: the scheduled campaign splits its customers by it while it runs. */
  @IsOptional()
  @Matches(/^[a-z0-9]+(-[a-z0-9]+)*$/, { message: 'CAMPAIGN_EXPERIMENT must be an experiment key: lower-case letters and digits, words joined by single hyphens' })
  @MaxLength(64, { message: 'CAMPAIGN_EXPERIMENT must be at most 64 characters' })
  CAMPAIGN_EXPERIMENT?: string;

  /** The customers' time zone: the send window is read in it. */
  @IsOptional()
  @IsString()
  CAMPAIGN_TIMEZONE = 'Asia/Dhaka';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(23)
  CAMPAIGN_SEND_WINDOW_START = 9;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(24)
  CAMPAIGN_SEND_WINDOW_END = 18;

  /** How many customers one run handles at the same time. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(200)
  CAMPAIGN_CONCURRENCY = 20;

  /** Attempts of a failing run, the first included. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10)
  CAMPAIGN_MAX_ATTEMPTS = 3;

  /** Wait before the first retry; doubles for each further one. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  CAMPAIGN_RETRY_BACKOFF_MS = 60_000;

  /** Deliveries (sent or failed; skips do not count) the auto-pause looks back over. */
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'AUTO_PAUSE_WINDOW must be a whole number' })
  @Min(1, { message: 'AUTO_PAUSE_WINDOW must be at least 1' })
  @Max(100_000)
  AUTO_PAUSE_WINDOW = 200;

  /** A run pauses itself when more than this share of its last AUTO_PAUSE_WINDOW deliveries failed; 1 never pauses. */
  @IsOptional()
  @Transform(toNumber)
  @IsNumber({}, { message: 'AUTO_PAUSE_FAILURE_RATIO must be a number' })
  @IsPositive({ message: 'AUTO_PAUSE_FAILURE_RATIO must be more than 0 and at most 1' })
  @Max(1, { message: 'AUTO_PAUSE_FAILURE_RATIO must be more than 0 and at most 1' })
  AUTO_PAUSE_FAILURE_RATIO = 0.5;

  /** Attempts to hand one message to its channel, the first included; only transient failures are retried. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(20)
  DELIVERY_MAX_ATTEMPTS = 5;

  /** Wait before the first retry of a delivery; doubles for each further one (with jitter; a Retry-After wins). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(600_000)
  DELIVERY_RETRY_BACKOFF_MS = 2_000;

  /**
   * A message still queued or sending this long after its last change was interrupted; the sweeper settles it
   * (queued: failed and freed for the next run; sending: email unknown, SMS sent again).
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1440)
  STALE_CLAIM_MINUTES = 10;

  /**
   * How long a lock lease (the campaign lock) outlives its last heartbeat; the holder renews it every third
   * of this. A killed holder's lock is free again within this time.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(2)
  @Max(600)
  LOCK_LEASE_TTL_SECONDS = 30;

  /** On SIGTERM, how long deliveries in flight (a campaign run's included) may take to finish before the run is recorded. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(600)
  SHUTDOWN_GRACE_SECONDS = 30;

  @IsOptional()
  @IsString()
  EMBEDDED_PG_DIR = '.data/postgres';

  /**
   * Shared state between instances: with it, deliveries go through BullMQ queues that every worker consumes, and
   * the public routes' rate limits are shared. Without it deliveries run in-process and each instance counts alone.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /**
   * What this process does: `all` (HTTP API, scheduler and a delivery worker), `api` (HTTP API and scheduler; the
   * deliveries go to the queue for workers elsewhere) or `worker` (only consumes deliveries; serves /health/* and
   * /metrics). `api` and `worker` need REDIS_URL.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['all', 'api', 'worker'], { message: 'APP_ROLE must be all, api or worker' })
  APP_ROLE: 'all' | 'api' | 'worker' = 'all';

  /** Deliveries one worker process runs at once, per channel queue (queue mode). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  WORKER_CONCURRENCY = 20;

  /**
   * Deliveries a campaign producer keeps in the queue (waiting or being delivered) at once, and the page it reads
   * from the segment: Redis holds at most this many of a run's jobs, whatever the number of customers.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  QUEUE_MAX_PENDING = 1_000;

  /**
   * How long send-single and send-bulk wait for the workers' outcome (queue mode) before they answer 202 with the
   * message still `queued`; its delivery goes on when a worker takes the job.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  SEND_WAIT_SECONDS = 30;

  /** Emails started per second across every worker together (queue mode; 0 = no limit). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  EMAIL_RATE_LIMIT_PER_SECOND = 0;

  /** SMS started per second across every worker together (queue mode; 0 = no limit). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  SMS_RATE_LIMIT_PER_SECOND = 0;

  /** Prepended to every Redis key this service writes, so environments can share one Redis. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9:_.-]{1,64}$/, { message: 'REDIS_KEY_PREFIX must be 1-64 letters, digits or :_.-' })
  REDIS_KEY_PREFIX = 'smartengage:';

  /** Requests one client (IP) may make per minute to each public route: /events, /unsubscribe/, /health. */
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'PUBLIC_RATE_LIMIT_PER_MINUTE must be a whole number' })
  @Min(1)
  @Max(1_000_000)
  PUBLIC_RATE_LIMIT_PER_MINUTE = 120;

  /** Click redirects (/r/) one client IP may follow per minute; link scanners click from a few IPs. */
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'CLICK_RATE_LIMIT_PER_MINUTE must be a whole number' })
  @Min(1)
  @Max(1_000_000)
  CLICK_RATE_LIMIT_PER_MINUTE = 600;

  /**
   * Opens (/o/) recorded per minute from one client IP; beyond it the pixel is still served, the open is not
   * recorded. Mail proxies fetch every open of a campaign from a few IPs.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'OPEN_RECORD_LIMIT_PER_MINUTE must be a whole number' })
  @Min(1)
  @Max(1_000_000)
  OPEN_RECORD_LIMIT_PER_MINUTE = 10_000;

  /**
   * Which proxies' X-Forwarded-For to believe for the client IP (Express "trust proxy"): false, true, a hop
   * count, or a comma-separated list of addresses, CIDRs, loopback, linklocal, uniquelocal.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  TRUST_PROXY?: string;

  @IsOptional()
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';

  /** json: one object per line, for an aggregator; pretty: readable lines. Default: json in production, else pretty. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['json', 'pretty'], { message: 'LOG_FORMAT must be json or pretty' })
  LOG_FORMAT?: 'json' | 'pretty';
}

const PRODUCTION_REQUIRED = ['DATABASE_URL', 'JWT_SECRET', 'ADMIN_API_KEYS'] as const;

export class InvalidEnvironmentError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidEnvironmentError';
  }
}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? text : `${error.property}: ${text}`,
    ),
  );
}

/** Validates the environment once; throws an error naming every bad variable. */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const env = plainToInstance(EnvironmentVariables, raw, { exposeDefaultValues: true });
  const problems = describe(validateSync(env, { skipMissingProperties: false, stopAtFirstError: true }));
  if (env.NODE_ENV === 'production') {
    for (const name of PRODUCTION_REQUIRED) {
      if (!env[name]) problems.push(`${name} is required when NODE_ENV=production`);
    }
    const keysProblem = env.ADMIN_API_KEYS === undefined ? null : adminKeysProblem(env.ADMIN_API_KEYS);
    if (keysProblem) problems.push(keysProblem);
    // Both are HMAC keys: whoever knows one signs booking links, or opts any number out by a forged reply.
    for (const name of ['JWT_SECRET', 'SMS_INBOUND_SECRET'] as const) {
      const secret = env[name];
      const secretProblem = secret === undefined ? null : productionSecretProblem(name, secret);
      if (secretProblem) problems.push(secretProblem);
    }
    // `true` believes the first X-Forwarded-For entry, which any client writes.
    if (env.TRUST_PROXY?.trim().toLowerCase() === 'true') {
      problems.push('TRUST_PROXY=true lets any client choose its own IP; in production give the hop count or the proxies\' addresses');
    }
  }
  const smtpProblem = env.SMTP_URL ? smtpUrlProblem(env.SMTP_URL) : null;
  if (smtpProblem) problems.push(smtpProblem);
  if (env.TRUST_PROXY !== undefined && !isTrustProxy(env.TRUST_PROXY)) {
    problems.push('TRUST_PROXY must be true, false, a hop count, or a comma-separated list of IPs, CIDRs, loopback, linklocal, uniquelocal');
  }
  // Credentials go in OPENAI_API_KEY / SMS_GATEWAY_API_KEY: a URL with them would end up in error messages.
  for (const name of ['OPENAI_BASE_URL', 'SMS_GATEWAY_URL'] as const) {
    const value = env[name];
    if (value && /^[a-z]+:\/\/[^/@]*@/i.test(value)) {
      problems.push(`${name} must not contain a user name or password; use the matching API key variable`);
    }
  }
  if (!validateCronExpression(env.CAMPAIGN_CRON).valid) {
    problems.push(`CAMPAIGN_CRON must be a cron expression such as "0 9 * * *"`);
  }
  if (env.CAMPAIGN_PREPARE_CRON && !validateCronExpression(env.CAMPAIGN_PREPARE_CRON).valid) {
    problems.push(`CAMPAIGN_PREPARE_CRON must be a cron expression such as "0 20 * * *"`);
  }
  if (!isTimeZone(env.CAMPAIGN_TIMEZONE)) problems.push(`CAMPAIGN_TIMEZONE: ${env.CAMPAIGN_TIMEZONE} is not an IANA time zone`);
  if (env.CAMPAIGN_SEND_WINDOW_START >= env.CAMPAIGN_SEND_WINDOW_END) {
    problems.push('CAMPAIGN_SEND_WINDOW_START must be before CAMPAIGN_SEND_WINDOW_END');
  }
  if (env.REDIS_URL && !/^\/?(\d{1,5})?$/.test(urlPath(env.REDIS_URL))) {
    problems.push('REDIS_URL: its path must be a database index such as /0, or nothing');
  }
  if (env.APP_ROLE !== 'all' && !env.REDIS_URL) {
    problems.push(`APP_ROLE=${env.APP_ROLE} needs REDIS_URL: api and worker processes share their deliveries through Redis`);
  }
  if (problems.length > 0) throw new InvalidEnvironmentError(problems);
  return env;
}

/** Production: an HMAC key of its own, at least as long as the SHA-256 it keys. Never quotes the value. */
function productionSecretProblem(name: string, secret: string): string | null {
  if (isPublishedValue(secret)) {
    return `${name} is the development secret or an example from the docs, which anyone can read; generate one (openssl rand -hex 32)`;
  }
  if (Buffer.byteLength(secret) < MIN_PRODUCTION_JWT_SECRET_BYTES) {
    return `${name} is shorter than ${MIN_PRODUCTION_JWT_SECRET_BYTES} bytes, the production minimum; generate one (openssl rand -hex 32)`;
  }
  return null;
}

/**
 * Production: every comma-separated key present, long, header-safe and hard to guess. Names positions, never
 * the keys.
 */
function adminKeysProblem(raw: string): string | null {
  const keys = raw.split(',').map((key) => key.trim());
  const position = (index: number) => `ADMIN_API_KEYS: key ${index + 1} of ${keys.length}`;
  for (const [index, key] of keys.entries()) {
    if (key === '') return `${position(index)} is empty; list keys separated by commas`;
    if (key.length < MIN_PRODUCTION_ADMIN_KEY_LENGTH) {
      return `${position(index)} is shorter than ${MIN_PRODUCTION_ADMIN_KEY_LENGTH} characters, the production minimum`;
    }
    if (!isHeaderSafe(key)) {
      return `${position(index)} has a character that is not printable ASCII (a space, a control or non-ASCII character), which an Authorization header cannot carry`;
    }
    if (isPublishedValue(key)) return `${position(index)} is an example from the docs, which anyone can read`;
    if (estimatedEntropyBits(key) < MIN_PRODUCTION_ADMIN_KEY_BITS) {
      return `${position(index)} is too easy to guess (a repeated character or pattern); generate one (openssl rand -hex 32)`;
    }
  }
  return null;
}

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isTrustProxy(value: string): boolean {
  if (/^(true|false|\d+)$/i.test(value.trim())) return true;
  return value.split(',').every((entry) => {
    const [address, prefix, extra] = entry.trim().split('/');
    if (extra !== undefined) return false;
    if (TRUST_PROXY_NAMES.has(address) && prefix === undefined) return true;
    const family = isIP(address);
    if (family === 0) return false;
    return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  });
}

function urlPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
