import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { Slots } from '../common/slots';
import { AppConfig } from '../config/app-config';
import { CircuitOpenError } from './circuit-breaker';
import { retryDelayMs } from './delivery-retry';
import { holdBackMs, LlmBudget } from './llm-budget';
import { LlmCircuitBreaker } from './llm-circuit-breaker';
import { LlmMetrics } from './llm.metrics';
import { LlmFailure, LlmGenerationError } from './llm-failure';
import { LlmSpend, LlmUsage, Prose, ProseInput, ProseResult } from './message-content';
import { GeneratorKind } from './message.types';
import { emailRequest, factsOf, parseProse, parseSmsLine, PROMPT_VERSION, smsFactsOf, smsRequest, SMS_PROMPT_VERSION } from './prompts';

export { LlmFailure, LlmGenerationError } from './llm-failure';
export { emailRequest, factsOf, parseProse, PROMPT_VERSION } from './prompts';

/** Backoff base of our own retries (408, 409, 5xx, no answer) when the budget is on. */
const RETRY_BACKOFF_MS = 500;

export interface WriteOptions {
  /**
   * The latest a budgeted call may start (epoch ms): a campaign's send window close. A customer whose turn would
   * come later gets the template at once (`llm_budget`). Default: OPENAI_DEADLINE_SECONDS from now.
   */
  notAfter?: number;
}

type Completion = OpenAI.Chat.Completions.ChatCompletion;
type ChatRequest = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

/**
 * Writes prose with an OpenAI-compatible chat-completions API, using structured output. With OPENAI_RPM or
 * OPENAI_TPM set, every call takes a turn in the shared budget and the client's own retries are off: the retry
 * loop is ours, so a 429 holds every caller back (the budget's pause) rather than each retrying on its own.
 */
@Injectable()
export class OpenAiProseGenerator {
  readonly kind = GeneratorKind.OpenAi;
  readonly model: string;
  private readonly client: OpenAI | null;
  private readonly deadlineMs: number;
  private readonly maxRetries: number;
  private readonly slots: Slots;

  constructor(
    config: AppConfig,
    private readonly breaker: LlmCircuitBreaker,
    private readonly budget: LlmBudget,
    private readonly metrics: LlmMetrics,
  ) {
    const { apiKey, baseUrl, timeoutSeconds, maxRetries, model, deadlineSeconds, concurrency } = config.openai;
    this.model = model;
    this.deadlineMs = deadlineSeconds * 1000;
    this.maxRetries = maxRetries;
    this.slots = new Slots(concurrency);
    this.client = apiKey
      ? new OpenAI({ apiKey, baseURL: baseUrl, timeout: timeoutSeconds * 1000, maxRetries: budget.enabled ? 0 : maxRetries })
      : null;
  }

  get enabled(): boolean {
    return this.client !== null;
  }

  /** Email prose: { subject, body }. */
  write(input: ProseInput, options: WriteOptions = {}): Promise<ProseResult> {
    return this.draft(emailRequest(this.model, factsOf(input)), parseProse, PROMPT_VERSION, options);
  }

  /** One SMS line (the Prose's body; no subject), asked to fit `maxCharacters`. */
  writeSms(input: ProseInput, maxCharacters: number, options: WriteOptions = {}): Promise<ProseResult> {
    return this.draft(smsRequest(this.model, smsFactsOf(input, maxCharacters)), parseSmsLine, SMS_PROMPT_VERSION, options);
  }

  /** One request through the slots, the budget, the breaker and the deadline, whatever the prompt. */
  private async draft(
    request: ChatRequest,
    parse: (content: string | null | undefined) => Prose,
    promptVersion: string,
    options: WriteOptions,
  ): Promise<ProseResult> {
    const client = this.client;
    if (!client) throw new LlmGenerationError(LlmFailure.Unavailable, 'OPENAI_API_KEY is not set');
    const completion = this.budget.enabled
      ? await this.budgeted(client, request, options.notAfter ?? Date.now() + this.deadlineMs)
      : await this.unbudgeted(client, request);
    const usage = usageOf(completion);
    const spent: LlmSpend = { model: this.model, promptVersion, usage, costUsd: this.metrics.used(this.model, usage) };
    try {
      const choice = completion.choices[0];
      if (!choice?.message) throw new LlmGenerationError(LlmFailure.MalformedOutput, 'the completion had no message');
      if (choice.message.refusal) throw new LlmGenerationError(LlmFailure.Refused, 'the model refused');
      return { prose: parse(choice.message.content), generator: GeneratorKind.OpenAi, ...spent };
    } catch (error) {
      if (error instanceof LlmGenerationError) throw new LlmGenerationError(error.reason, error.message, spent);
      throw error;
    }
  }

  /** One completion, the client's retries included, within OPENAI_DEADLINE_SECONDS. */
  private async unbudgeted(client: OpenAI, request: ChatRequest): Promise<Completion> {
    const release = await this.slots.acquire();
    try {
      return (await this.call(client, request, this.deadlineMs)).data;
    } catch (error) {
      throw toLlmError(error, this.deadlineMs);
    } finally {
      release?.();
    }
  }

  /**
   * Waits for an LLM slot and the budget's turn, unless either comes after `notAfter` (then `llm_budget`), and
   * retries what the client would have (429, 408, 409, 5xx, no answer) up to OPENAI_MAX_RETRIES, each retry in
   * a new turn. OPENAI_DEADLINE_SECONDS counts from the first request, the waits between retries included.
   */
  private async budgeted(client: OpenAI, request: ChatRequest, notAfter: number): Promise<Completion> {
    const estimate = estimateTokens(request);
    const waitStarted = Date.now();
    const slotFree = this.slots.available > 0;
    const release = await this.slots.acquire(notAfter - Date.now());
    if (!release) throw new LlmGenerationError(LlmFailure.Budget, 'no LLM slot came free before the send window closes');
    try {
      let deadlineAt: number | null = null;
      for (let attempt = 0; ; attempt++) {
        const latest = deadlineAt === null ? notAfter : deadlineAt;
        const turn = await this.budget.reserve(estimate, latest - Date.now());
        if (!turn.granted) {
          if (deadlineAt !== null) throw new LlmGenerationError(LlmFailure.RateLimited, 'the LLM budget had no turn left within the deadline');
          throw new LlmGenerationError(LlmFailure.Budget, `the LLM budget's next turn is ${Math.round(turn.waitMs / 1000)} s away, after the send window closes`);
        }
        // Unref'd: a customer waiting for its turn (up to the window's close) does not hold a shutdown open.
        if (turn.waitMs > 0) await sleep(turn.waitMs, undefined, { ref: false });
        if (attempt === 0 && (!slotFree || turn.waitMs > 0)) this.metrics.waited(Date.now() - waitStarted);
        deadlineAt ??= Date.now() + this.deadlineMs;
        let outcome: { data: Completion; response: Response };
        try {
          outcome = await this.call(client, request, deadlineAt - Date.now());
        } catch (error) {
          if (error instanceof LlmGenerationError) throw error;
          // Our turn was spent either way; a 429 also holds everyone back until the provider's reset.
          if (error instanceof OpenAI.RateLimitError) await this.budget.pause(holdBackMs(error.headers, true, estimate) ?? 0);
          if (!retryable(error) || attempt >= this.maxRetries || Date.now() >= deadlineAt) throw toLlmError(error, this.deadlineMs);
          if (!(error instanceof OpenAI.RateLimitError)) {
            await sleep(Math.min(retryDelayMs(attempt + 1, RETRY_BACKOFF_MS), Math.max(0, deadlineAt - Date.now())), undefined, { ref: false });
          }
          continue;
        }
        const { data, response } = outcome;
        await this.budget.settle(estimate, data.usage?.total_tokens ?? estimate);
        await this.budget.pause(holdBackMs(response.headers, false, estimate) ?? 0);
        return data;
      }
    } catch (error) {
      if (error instanceof LlmGenerationError) throw error;
      throw toLlmError(error, this.deadlineMs);
    } finally {
      release();
    }
  }

  /**
   * One request through the breaker (a 429 is an answer and never opens it), within `timeoutMs`. The signal
   * stops the client's requests, but not its sleep before a retry (up to a provider's Retry-After), hence the race.
   */
  private async call(client: OpenAI, request: ChatRequest, timeoutMs: number): Promise<{ data: Completion; response: Response }> {
    const started = process.hrtime.bigint();
    try {
      return await this.breaker.run(() => this.complete(client, request, timeoutMs));
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        throw new LlmGenerationError(LlmFailure.CircuitOpen, `the LLM was not asked: ${error.message}`);
      }
      if (error instanceof OpenAI.RateLimitError) this.metrics.rateLimited(this.model);
      throw error;
    } finally {
      this.metrics.requested(this.model, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async complete(client: OpenAI, body: ChatRequest, timeoutMs: number): Promise<{ data: Completion; response: Response }> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), Math.max(0, timeoutMs));
    const expired = new Promise<never>((_, reject) => {
      deadline.signal.addEventListener('abort', () => reject(new DeadlineExceeded()), { once: true });
    });
    const request = client.chat.completions.create(body, { signal: deadline.signal }).withResponse();
    try {
      return await Promise.race([request, expired]);
    } finally {
      clearTimeout(timer);
      // Past the deadline the client still rejects, later, with its abort error: nobody waits for it.
      request.catch(() => undefined);
    }
  }
}

/**
 * What a request counts against the token budget before its usage is known: the prompt at about 3 characters a
 * token (Bengali names and services take more than English), plus the completion's cap, as OpenAI counts it.
 */
function estimateTokens(request: ChatRequest): number {
  const characters = request.messages.reduce((sum, message) => sum + String(message.content ?? '').length, 0);
  return Math.ceil(characters / 3) + (request.max_completion_tokens ?? 0);
}

export function usageOf(completion: Completion): LlmUsage | undefined {
  const usage = completion.usage;
  if (!usage) return undefined;
  const cachedInput = usage.prompt_tokens_details?.cached_tokens ?? 0;
  return { input: usage.prompt_tokens - cachedInput, cachedInput, output: usage.completion_tokens };
}

/** What the client itself would have retried. */
function retryable(error: unknown): boolean {
  if (error instanceof OpenAI.APIConnectionError) return true;
  if (!(error instanceof OpenAI.APIError) || error.status === undefined) return false;
  return error.status === 408 || error.status === 409 || error.status === 429 || error.status >= 500;
}

class DeadlineExceeded extends Error {}

function toLlmError(error: unknown, deadlineMs: number): LlmGenerationError {
  if (error instanceof LlmGenerationError) return error;
  if (error instanceof DeadlineExceeded || error instanceof OpenAI.APIUserAbortError) {
    return new LlmGenerationError(LlmFailure.Timeout, `no draft within the ${deadlineMs / 1000} s deadline`);
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new LlmGenerationError(LlmFailure.Timeout, 'the LLM did not answer in time');
  }
  if (error instanceof OpenAI.RateLimitError) {
    return new LlmGenerationError(LlmFailure.RateLimited, 'the LLM kept answering 429');
  }
  const detail = error instanceof OpenAI.APIError ? `status ${error.status ?? 'none'}` : 'request failed';
  return new LlmGenerationError(LlmFailure.Unavailable, `the LLM call failed (${detail})`);
}
