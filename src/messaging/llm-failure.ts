import { LlmSpend } from './message-content';

/** Why an LLM draft was not used; stored as ai_messages.fallback_reason. */
export enum LlmFailure {
  Timeout = 'llm_timeout',
  RateLimited = 'llm_rate_limited',
  Unavailable = 'llm_unavailable',
  MalformedOutput = 'llm_malformed_output',
  Refused = 'llm_refused',
  /** The breaker is open after repeated failures: the LLM was not asked. */
  CircuitOpen = 'llm_circuit_open',
  /** OPENAI_RPM / OPENAI_TPM had no turn for this customer before the send window closes: the LLM was not asked. */
  Budget = 'llm_budget',
  /** The draft missed the brief (the service, the days in Bengali digits, 60% Bengali, SMS parts): see brief-check.ts. */
  OffBrief = 'llm_off_brief',
}

export class LlmGenerationError extends Error {
  constructor(
    readonly reason: LlmFailure,
    message: string,
    /** What a completion that came back unusable (malformed, refused) cost all the same. */
    readonly spent?: LlmSpend,
  ) {
    super(message);
    this.name = 'LlmGenerationError';
  }
}
