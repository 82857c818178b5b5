import { EnvironmentVariables } from './environment';
import { DEVELOPMENT_JWT_SECRET } from './secret-strength';

/**
 * Typed, validated configuration, built once at boot and injected by class.
 * Services read this instead of process.env.
 */
export class AppConfig {
  readonly nodeEnv: EnvironmentVariables['NODE_ENV'];
  readonly port: number;
  readonly log: { level: EnvironmentVariables['LOG_LEVEL']; format: 'json' | 'pretty' };
  readonly database: { url?: string; runMigrations: boolean; embeddedDir: string; lockLeaseTtlMs: number };
  /** How long in-flight work may take to finish once a shutdown signal arrives. */
  readonly shutdownGraceMs: number;
  readonly auth: { adminApiKeys: string[]; jwtSecret: string; jwtSecretIsDefault: boolean };
  readonly mail: { smtpUrl?: string; smtpMaxConnections: number; from: string; outboxDir: string };
  readonly sms: {
    gatewayUrl?: string;
    apiKey?: string;
    senderId: string;
    /** Key of the signature on forwarded replies; the inbound webhook is off without it. */
    inboundSecret?: string;
    maxSegments: number;
    timeoutMs: number;
    quietHours: { startHour: number; endHour: number };
  };
  readonly delivery: { maxAttempts: number; retryBackoffMs: number; staleClaimMs: number };
  readonly tracking: { emailClicks: boolean; emailOpens: boolean };
  readonly openai: {
    apiKey?: string;
    baseUrl?: string;
    model: string;
    timeoutSeconds: number;
    maxRetries: number;
    deadlineSeconds: number;
    breaker: { failures: number; cooldownSeconds: number };
    /** Requests and tokens per minute shared by every process on REDIS_URL; 0 = not enforced. */
    budget: { rpm: number; tpm: number };
    /** LLM calls in flight at once in this process. */
    concurrency: number;
    pricePerMtok: { input: number; cachedInput: number; output: number };
    /** Prepare drafts through the Batch API, and how often to poll it. */
    batch: { enabled: boolean; pollSeconds: number };
  };
  readonly links: { bookingBaseUrl: string; publicBaseUrl: string; defaultTtlHours: number };
  readonly frequencyCap: { maxMessages: number; windowDays: number };
  readonly redis: { url?: string; keyPrefix: string };
  /** Queue mode (REDIS_URL set): who consumes deliveries, how many at once, and the shared send rates. */
  readonly queue: {
    role: 'all' | 'api' | 'worker';
    workerConcurrency: number;
    maxPending: number;
    /** send-single and send-bulk answer `queued` after this long without an outcome. */
    sendWaitMs: number;
    ratePerSecond: { email: number; sms: number };
  };
  readonly http: {
    trustProxy: boolean | number | string;
    publicRateLimitPerMinute: number;
    clickRateLimitPerMinute: number;
    openRecordLimitPerMinute: number;
  };
  readonly campaign: {
    cron: string;
    /** When drafts are prepared ahead (UTC cron); null = not on a schedule. */
    prepareCron: string | null;
    schedulerEnabled: boolean;
    /** CAMPAIGN_EXPERIMENT: the experiment the scheduled run splits its customers by, while it runs. */
    experiment: string | null;
    timeZone: string;
    sendWindow: { startHour: number; endHour: number };
    concurrency: number;
    maxAttempts: number;
    retryBackoffMs: number;
    /** A run pauses itself when more than failureRatio of its last `window` deliveries failed. */
    autoPause: { window: number; failureRatio: number };
  };

  constructor(env: EnvironmentVariables) {
    this.nodeEnv = env.NODE_ENV;
    this.port = env.PORT;
    this.log = { level: env.LOG_LEVEL, format: env.LOG_FORMAT ?? (env.NODE_ENV === 'production' ? 'json' : 'pretty') };
    this.database = {
      url: env.DATABASE_URL,
      runMigrations: env.MIGRATIONS_RUN,
      embeddedDir: env.EMBEDDED_PG_DIR,
      lockLeaseTtlMs: env.LOCK_LEASE_TTL_SECONDS * 1000,
    };
    this.shutdownGraceMs = env.SHUTDOWN_GRACE_SECONDS * 1000;
    this.auth = {
      adminApiKeys: (env.ADMIN_API_KEYS ?? '')
        .split(',')
        .map((key) => key.trim())
        .filter(Boolean),
      jwtSecret: env.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET,
      jwtSecretIsDefault: !env.JWT_SECRET,
    };
    this.mail = {
      smtpUrl: env.SMTP_URL,
      smtpMaxConnections: env.SMTP_MAX_CONNECTIONS,
      from: env.MAIL_FROM,
      outboxDir: env.OUTBOX_DIR,
    };
    this.sms = {
      gatewayUrl: env.SMS_GATEWAY_URL,
      apiKey: env.SMS_GATEWAY_API_KEY,
      senderId: env.SMS_SENDER_ID,
      inboundSecret: env.SMS_INBOUND_SECRET,
      maxSegments: env.SMS_MAX_SEGMENTS,
      timeoutMs: env.SMS_GATEWAY_TIMEOUT_MS,
      quietHours: { startHour: env.SMS_QUIET_HOURS_START, endHour: env.SMS_QUIET_HOURS_END },
    };
    this.delivery = {
      maxAttempts: env.DELIVERY_MAX_ATTEMPTS,
      retryBackoffMs: env.DELIVERY_RETRY_BACKOFF_MS,
      staleClaimMs: env.STALE_CLAIM_MINUTES * 60_000,
    };
    this.tracking = { emailClicks: env.EMAIL_CLICK_TRACKING, emailOpens: env.EMAIL_OPEN_TRACKING };
    this.openai = {
      apiKey: env.OPENAI_API_KEY,
      baseUrl: env.OPENAI_BASE_URL,
      model: env.OPENAI_MODEL,
      timeoutSeconds: env.OPENAI_TIMEOUT_SECONDS,
      maxRetries: env.OPENAI_MAX_RETRIES,
      deadlineSeconds: env.OPENAI_DEADLINE_SECONDS,
      breaker: { failures: env.OPENAI_BREAKER_FAILURES, cooldownSeconds: env.OPENAI_BREAKER_COOLDOWN_SECONDS },
      budget: { rpm: env.OPENAI_RPM, tpm: env.OPENAI_TPM },
      concurrency: env.OPENAI_CONCURRENCY,
      pricePerMtok: {
        input: env.OPENAI_PRICE_INPUT_PER_MTOK,
        cachedInput: env.OPENAI_PRICE_CACHED_INPUT_PER_MTOK,
        output: env.OPENAI_PRICE_OUTPUT_PER_MTOK,
      },
      batch: { enabled: env.OPENAI_BATCH, pollSeconds: env.OPENAI_BATCH_POLL_SECONDS },
    };
    this.links = {
      bookingBaseUrl: env.BOOKING_BASE_URL,
      publicBaseUrl: env.PUBLIC_BASE_URL.replace(/\/+$/, ''),
      defaultTtlHours: env.DEFAULT_TTL_HOURS,
    };
    this.frequencyCap = { maxMessages: env.FREQUENCY_CAP_MAX_MESSAGES, windowDays: env.FREQUENCY_CAP_WINDOW_DAYS };
    this.redis = { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX };
    this.queue = {
      role: env.APP_ROLE,
      workerConcurrency: env.WORKER_CONCURRENCY,
      maxPending: env.QUEUE_MAX_PENDING,
      sendWaitMs: env.SEND_WAIT_SECONDS * 1000,
      ratePerSecond: { email: env.EMAIL_RATE_LIMIT_PER_SECOND, sms: env.SMS_RATE_LIMIT_PER_SECOND },
    };
    this.http = {
      trustProxy: trustProxySetting(env.TRUST_PROXY),
      publicRateLimitPerMinute: env.PUBLIC_RATE_LIMIT_PER_MINUTE,
      clickRateLimitPerMinute: env.CLICK_RATE_LIMIT_PER_MINUTE,
      openRecordLimitPerMinute: env.OPEN_RECORD_LIMIT_PER_MINUTE,
    };
    this.campaign = {
      cron: env.CAMPAIGN_CRON,
      prepareCron: env.CAMPAIGN_PREPARE_CRON?.trim() || null,
      schedulerEnabled: env.CAMPAIGN_SCHEDULER_ENABLED,
      experiment: env.CAMPAIGN_EXPERIMENT ?? null,
      timeZone: env.CAMPAIGN_TIMEZONE,
      sendWindow: { startHour: env.CAMPAIGN_SEND_WINDOW_START, endHour: env.CAMPAIGN_SEND_WINDOW_END },
      concurrency: env.CAMPAIGN_CONCURRENCY,
      maxAttempts: env.CAMPAIGN_MAX_ATTEMPTS,
      retryBackoffMs: env.CAMPAIGN_RETRY_BACKOFF_MS,
      autoPause: { window: env.AUTO_PAUSE_WINDOW, failureRatio: env.AUTO_PAUSE_FAILURE_RATIO },
    };
  }
}

/** TRUST_PROXY as Express's "trust proxy" takes it: a boolean, a hop count, or the list as a string. */
function trustProxySetting(value: string | undefined): boolean | number | string {
  const text = value?.trim().toLowerCase();
  if (text === undefined || text === 'false') return false;
  if (text === 'true') return true;
  return /^\d+$/.test(text) ? Number(text) : text;
}
