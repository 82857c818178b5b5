import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { SafetyFilterService } from '../safety/safety-filter.service';
import { SafetyPolicy, SafetyRule, SafetyViolation } from '../safety/safety.types';
import { BriefViolation, briefViolations } from './brief-check';
import { GENERIC_NAME } from './display-name';
import { MessageComposer } from './message-composer';
import { StoredDraft } from './ai-message.repository';
import { ComposedMessage, LlmUsage, MessageContext, Prose, proseInputFrom, ProseResult } from './message-content';
import { GeneratorKind } from './message.types';
import { LlmFailure, LlmGenerationError, OpenAiProseGenerator, WriteOptions } from './openai-prose.generator';
import { SmsComposer } from './sms-composer';
import { TemplateProseGenerator } from './template-prose.generator';

export const SAFETY_REJECTED = 'safety_rejected';

/** What refused a draft: the safety filter's findings, or what the brief check missed. */
export type Finding = SafetyViolation | BriefViolation;

export interface Draft {
  message: ComposedMessage;
  /** The generator's prose the message was composed from. */
  prose: Prose;
  generator: GeneratorKind;
  /** Why the template was used although an LLM is configured. */
  fallbackReason: string | null;
  /** What the safety filter or the brief check found in a refused LLM draft. */
  violations: Finding[] | null;
  generationSeconds: number;
  /** The LLM's model, prompt version and tokens, when it wrote the prose. */
  model?: string;
  promptVersion?: string;
  usage?: LlmUsage;
  /** Parts the SMS takes, for SMS drafts. */
  smsSegments?: number;
}

export interface DraftOptions extends WriteOptions {
  /** The message's draft as first written (a retry, a redelivered job): composed and checked again, never redrafted. */
  stored?: StoredDraft | null;
}

/** Thrown when not even the built-in template passes the safety filter. */
export class DraftRejectedError extends Error {
  constructor(readonly violations: SafetyViolation[]) {
    super(`message rejected by the safety filter: ${violations.map((v) => v.rule).join(', ')}`);
    this.name = 'DraftRejectedError';
  }
}

/**
 * Writes a message: the LLM when configured, else (or when its output fails or is rejected)
 * the built-in template. Every candidate passes the safety filter before it is returned.
 */
@Injectable()
export class DraftingService {
  private readonly logger = new Logger(DraftingService.name);

  constructor(
    private readonly llm: OpenAiProseGenerator,
    private readonly templates: TemplateProseGenerator,
    private readonly composer: MessageComposer,
    private readonly sms: SmsComposer,
    private readonly safety: SafetyFilterService,
    private readonly config: AppConfig,
  ) {}

  /** True when email drafts are worth storing before the send: they may cost an LLM call. */
  get storesDrafts(): boolean {
    return this.llm.enabled;
  }

  async draft(context: MessageContext, options: DraftOptions = {}): Promise<Draft> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let fallbackReason: string | null = null;
    let violations: Finding[] | null = null;

    const { stored } = options;
    if (stored) {
      const result = { prose: stored.prose, generator: stored.generator, model: stored.model ?? undefined, promptVersion: stored.promptVersion ?? undefined, usage: stored.usage ?? undefined };
      const checked = this.composeAndCheck(result, context);
      if (checked.violations.length === 0) {
        return { ...checked.draft, fallbackReason: stored.fallbackReason, violations: stored.safetyViolations as Finding[] | null, generationSeconds: elapsed() };
      }
      fallbackReason = SAFETY_REJECTED;
      violations = checked.violations;
    } else if (this.llm.enabled && context.generator !== GeneratorKind.Template) {
      try {
        const accepted = this.acceptLlm(await this.llm.write(proseInputFrom(context), options), context);
        if ('draft' in accepted) return { ...accepted.draft, generationSeconds: elapsed() };
        ({ fallbackReason, violations } = accepted);
        this.logger.warn(`LLM draft refused, ${fallbackReason} (${violations.map((v) => v.rule).join(', ')}); using the template`);
      } catch (error) {
        if (!(error instanceof LlmGenerationError)) throw error;
        fallbackReason = error.reason;
        // An open circuit or a spent budget would log once per customer; the breaker logs when it opens and closes.
        const log = error.reason === LlmFailure.CircuitOpen || error.reason === LlmFailure.Budget ? 'debug' : 'warn';
        this.logger[log](`LLM draft unavailable (${error.reason}: ${error.message}); using the template`);
      }
    }

    // A name the filter objects to (profanity, say) gets the generic greeting instead.
    let templateViolations: SafetyViolation[] = [];
    for (const candidate of [context, { ...context, customerName: GENERIC_NAME }]) {
      const checked = this.composeAndCheck(this.templates.write(proseInputFrom(candidate)), candidate);
      if (checked.violations.length === 0) {
        return { ...checked.draft, fallbackReason, violations, generationSeconds: elapsed() };
      }
      templateViolations = checked.violations;
    }
    throw new DraftRejectedError(templateViolations);
  }

  /**
   * An SMS from the built-in templates: the longest that fits `maxSegments` parts and passes the
   * safety filter. (The LLM writes email prose only: an SMS has no room for it.)
   */
  draftSms(context: MessageContext, maxSegments: number): Draft {
    const started = process.hrtime.bigint();
    let violations: SafetyViolation[] = [];
    for (const candidate of [context, { ...context, customerName: GENERIC_NAME }]) {
      const sms = this.sms.compose(candidate, maxSegments);
      if (!sms) {
        violations = [{ rule: SafetyRule.Length, detail: `no SMS template fits in ${maxSegments} parts` }];
        continue;
      }
      const verdict = this.safety.check({ subject: '', text: sms.text, channel: 'sms' }, this.policyFor(candidate));
      if (verdict.passed) {
        return {
          message: { subject: '', text: sms.text, html: '' },
          prose: { subject: '', body: sms.text },
          generator: GeneratorKind.Template,
          fallbackReason: null,
          violations: null,
          generationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
          smsSegments: sms.segments,
        };
      }
      violations = verdict.violations;
    }
    throw new DraftRejectedError(violations);
  }

  /**
   * The checks every LLM draft passes before it is used, written live or prepared ahead: composed with the
   * message's offer and links, then the safety filter, then the brief check (the service, the days in Bengali
   * digits, mostly Bengali). A refused draft says why, and the template is used.
   */
  acceptLlm(
    result: ProseResult,
    context: MessageContext,
  ): { draft: Omit<Draft, 'generationSeconds'> } | { fallbackReason: string; violations: Finding[] } {
    const checked = this.composeAndCheck(result, context);
    if (checked.violations.length > 0) return { fallbackReason: SAFETY_REJECTED, violations: checked.violations };
    const offBrief = briefViolations(result.prose, context);
    if (offBrief.length > 0) return { fallbackReason: LlmFailure.OffBrief, violations: offBrief };
    return { draft: { ...checked.draft, fallbackReason: null, violations: null } };
  }

  private composeAndCheck(result: ProseResult, context: MessageContext) {
    const message = this.composer.compose(result.prose, context);
    const verdict = this.safety.check({ subject: message.subject, text: message.text }, this.policyFor(context));
    return {
      draft: {
        message,
        prose: result.prose,
        generator: result.generator,
        model: result.model,
        promptVersion: result.promptVersion,
        usage: result.usage,
      },
      violations: verdict.violations,
    };
  }

  private policyFor(context: MessageContext): SafetyPolicy {
    return {
      offer: context.offer,
      allowedUrlPrefixes: [this.config.links.bookingBaseUrl, this.config.links.publicBaseUrl],
      trustedTokens: [context.customerName, 'ShoktiAI Team', 'ShoktiAI'],
    };
  }
}
