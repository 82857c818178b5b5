import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { FallibleRedis } from '../common/fallible-redis';
import { AppConfig } from '../config/app-config';

/** The cookbook's parallel processor holds every request back this long after a 429 that names no reset. */
const DEFAULT_PAUSE_MS = 15_000;
const MINUTE_MS = 60_000;

/** A reserved turn: when it starts, from now. */
export interface BudgetTurn {
  granted: boolean;
  waitMs: number;
}

/** The shared clocks behind the budget: in Redis, or in this process's memory without it. */
interface BudgetClock {
  reserve(requestMs: number, tokenMs: number, tokens: number, maxWaitMs: number): Promise<BudgetTurn>;
  adjustTokens(deltaMs: number): Promise<void>;
  pause(forMs: number): Promise<void>;
}

/**
 * Request and token budgets as two "next free time" clocks (the generic cell rate algorithm): a request's turn
 * starts when both clocks, and any pause after a 429, have passed; then the request clock moves on by
 * 60 s / OPENAI_RPM and the token clock by the estimate × 60 s / OPENAI_TPM. Turns are evenly spaced (no burst at
 * a window boundary), and a caller learns when its turn comes before waiting for it, so a campaign can give a
 * customer the template at once when the turn would come after its send window closes.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local requestMs, tokenMs, tokens, maxWait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local start = now
for i = 1, 3 do
  local at = tonumber(redis.call('GET', KEYS[i]) or '0')
  if at > start then start = at end
end
if start - now > maxWait then return {0, start - now} end
if requestMs > 0 then redis.call('SET', KEYS[1], start + requestMs, 'PX', start + requestMs - now + 60000) end
if tokenMs > 0 then
  local next = start + math.ceil(tokens * tokenMs)
  redis.call('SET', KEYS[2], next, 'PX', next - now + 60000)
end
return {1, start - now}`;

const ADJUST = `
local at = redis.call('GET', KEYS[1])
if at then redis.call('SET', KEYS[1], tonumber(at) + tonumber(ARGV[1]), 'KEEPTTL') end
return 0`;

const PAUSE = `
local t = redis.call('TIME')
local untilMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < untilMs then redis.call('SET', KEYS[1], untilMs, 'PX', tonumber(ARGV[1]) + 1000) end
return 0`;

class MemoryClock implements BudgetClock {
  private requestsAt = 0;
  private tokensAt = 0;
  private pausedUntil = 0;

  reserve(requestMs: number, tokenMs: number, tokens: number, maxWaitMs: number): Promise<BudgetTurn> {
    const now = Date.now();
    const start = Math.max(now, this.requestsAt, this.tokensAt, this.pausedUntil);
    if (start - now > maxWaitMs) return Promise.resolve({ granted: false, waitMs: start - now });
    if (requestMs > 0) this.requestsAt = start + requestMs;
    if (tokenMs > 0) this.tokensAt = start + Math.ceil(tokens * tokenMs);
    return Promise.resolve({ granted: true, waitMs: start - now });
  }

  adjustTokens(deltaMs: number): Promise<void> {
    if (this.tokensAt > 0) this.tokensAt += deltaMs;
    return Promise.resolve();
  }

  pause(forMs: number): Promise<void> {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + forMs);
    return Promise.resolve();
  }
}

const KEYS = ['requests-at', 'tokens-at', 'paused-until'];

class RedisClock implements BudgetClock {
  constructor(private readonly redis: Redis) {}

  async reserve(requestMs: number, tokenMs: number, tokens: number, maxWaitMs: number): Promise<BudgetTurn> {
    const [granted, waitMs] = (await this.redis.eval(RESERVE, 3, ...KEYS, requestMs, tokenMs, tokens, Math.max(0, Math.floor(maxWaitMs)))) as [
      number,
      number,
    ];
    return { granted: granted === 1, waitMs };
  }

  async adjustTokens(deltaMs: number): Promise<void> {
    await this.redis.eval(ADJUST, 1, KEYS[1], Math.round(deltaMs));
  }

  async pause(forMs: number): Promise<void> {
    await this.redis.eval(PAUSE, 1, KEYS[2], Math.ceil(forMs));
  }
}

/**
 * The LLM budget (OPENAI_RPM, OPENAI_TPM), shared by every process on REDIS_URL and kept in this process without
 * it: a call reserves its turn and an estimate of its tokens, settles with the real usage after, and a 429 or a
 * header saying the provider's budget is spent holds every caller back until the provider's reset. While Redis
 * is unreachable each process keeps its own budget rather than stalling drafts.
 */
@Injectable()
export class LlmBudget implements OnModuleInit, OnApplicationShutdown {
  private readonly memory = new MemoryClock();
  private readonly redis?: FallibleRedis;
  private readonly shared?: RedisClock;
  /** ms of the request clock per request, and of the token clock per token; 0 = that budget is off. */
  private readonly requestMs: number;
  private readonly tokenMs: number;

  constructor(config: AppConfig) {
    const { rpm, tpm } = config.openai.budget;
    this.requestMs = rpm > 0 ? MINUTE_MS / rpm : 0;
    this.tokenMs = tpm > 0 ? MINUTE_MS / tpm : 0;
    if (!this.enabled || !config.redis.url) return;
    this.redis = new FallibleRedis(config.redis.url, `${config.redis.keyPrefix}llm-budget:`, new Logger(LlmBudget.name), {
      down: 'Redis unavailable, the LLM budget is kept per process until it is back',
      back: 'Redis is back: the LLM budget is shared again',
    });
    this.shared = new RedisClock(this.redis.client);
  }

  /** True when OPENAI_RPM or OPENAI_TPM is set. */
  get enabled(): boolean {
    return this.requestMs > 0 || this.tokenMs > 0;
  }

  async onModuleInit(): Promise<void> {
    await this.redis?.connected();
  }

  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }

  /** Reserves a turn for one request of about `tokens` tokens, unless it would start more than `maxWaitMs` from now. */
  reserve(tokens: number, maxWaitMs: number): Promise<BudgetTurn> {
    return this.withClock((clock) => clock.reserve(this.requestMs, this.tokenMs, tokens, maxWaitMs));
  }

  /** The call used `actual` tokens where `estimated` were reserved: the token clock moves by the difference. */
  async settle(estimated: number, actual: number): Promise<void> {
    if (this.tokenMs === 0 || actual === estimated) return;
    await this.withClock((clock) => clock.adjustTokens((actual - estimated) * this.tokenMs));
  }

  /** Holds every caller back for `ms` (a 429, or the provider's headers said its budget is spent). */
  async pause(ms: number): Promise<void> {
    if (ms > 0) await this.withClock((clock) => clock.pause(ms));
  }

  private withClock<T>(use: (clock: BudgetClock) => Promise<T>): Promise<T> {
    const shared = this.shared;
    if (!this.redis || !shared) return use(this.memory);
    return this.redis.run(() => use(shared), () => use(this.memory));
  }
}

/**
 * How long the provider asks everyone to hold back, from a 429's or a success's headers: retry-after-ms or
 * retry-after, else the reset of whichever x-ratelimit budget is spent (remaining 0, or fewer tokens than one
 * more request needs). Null when the headers say there is room. A 429 without any of them pauses 15 s.
 */
export function holdBackMs(headers: Headers | undefined, rateLimited: boolean, nextTokens: number): number | null {
  const get = (name: string) => headers?.get(name) ?? null;
  const retryAfterMs = Number(get('retry-after-ms'));
  if (rateLimited && retryAfterMs > 0) return retryAfterMs;
  const retryAfter = Number(get('retry-after'));
  if (rateLimited && retryAfter > 0) return retryAfter * 1000;
  const spent: number[] = [];
  const remainingRequests = get('x-ratelimit-remaining-requests');
  if (remainingRequests !== null && Number(remainingRequests) <= 0) spent.push(durationMs(get('x-ratelimit-reset-requests')));
  const remainingTokens = get('x-ratelimit-remaining-tokens');
  if (remainingTokens !== null && Number(remainingTokens) < nextTokens) spent.push(durationMs(get('x-ratelimit-reset-tokens')));
  const reset = Math.max(0, ...spent.filter((ms) => Number.isFinite(ms)));
  if (reset > 0) return reset;
  return rateLimited ? DEFAULT_PAUSE_MS : null;
}

/** OpenAI's reset durations: "1s", "6m0s", "20ms", "1h2m3.5s". NaN when unreadable. */
export function durationMs(text: string | null): number {
  if (!text) return NaN;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text.trim()) return NaN;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  return Math.ceil(parts.reduce((sum, [, value, name]) => sum + Number(value) * unit[name], 0));
}
