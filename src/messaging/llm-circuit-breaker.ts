import { Injectable, Logger } from '@nestjs/common';
import OpenAI from 'openai';
import { AppConfig } from '../config/app-config';
import { CircuitBreaker, CircuitState } from './circuit-breaker';

const logger = new Logger('LlmCircuitBreaker');

/**
 * The one breaker in front of the LLM API, shared by every draft in this process: after
 * OPENAI_BREAKER_FAILURES failed calls in a row, drafts use the template at once for
 * OPENAI_BREAKER_COOLDOWN_SECONDS instead of each waiting out the deadline. 429s never open it.
 */
@Injectable()
export class LlmCircuitBreaker extends CircuitBreaker {
  constructor(config: AppConfig) {
    const { failures, cooldownSeconds } = config.openai.breaker;
    super({
      failureThreshold: failures,
      cooldownMs: cooldownSeconds * 1000,
      // A 429 is the provider answering that the budget is spent, not an outage: the budget handles it.
      isFailure: (error) => !(error instanceof OpenAI.RateLimitError),
      onStateChange: (to) => {
        if (to === CircuitState.Open) {
          logger.warn(`LLM circuit open: drafts use the template for ${cooldownSeconds} s, then one trial call`);
        } else if (to === CircuitState.HalfOpen) logger.log('LLM circuit half-open: one trial call');
        else logger.log('LLM circuit closed: the trial call succeeded');
      },
    });
  }
}
