import { plainToInstance, Transform } from 'class-transformer';
import { validateCronExpression } from 'cron';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
  ValidationError,
} from 'class-validator';

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

  /** Comma-separated bearer keys for /admin and /internal routes. */
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

  /** On SIGTERM, how long deliveries in flight may take to finish. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(600)
  SHUTDOWN_GRACE_SECONDS = 30;

  @IsOptional()
  @IsString()
  EMBEDDED_PG_DIR = '.data/postgres';

  @IsOptional()
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';
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
  if (!isTimeZone(env.CAMPAIGN_TIMEZONE)) problems.push(`CAMPAIGN_TIMEZONE: ${env.CAMPAIGN_TIMEZONE} is not an IANA time zone`);
  if (env.CAMPAIGN_SEND_WINDOW_START >= env.CAMPAIGN_SEND_WINDOW_END) {
    problems.push('CAMPAIGN_SEND_WINDOW_START must be before CAMPAIGN_SEND_WINDOW_END');
  }
  if (problems.length > 0) throw new InvalidEnvironmentError(problems);
  return env;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
