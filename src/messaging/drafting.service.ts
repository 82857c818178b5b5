import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { SafetyFilterService } from '../safety/safety-filter.service';
import { SafetyPolicy, SafetyRule, SafetyViolation } from '../safety/safety.types';
import { BriefRule, BriefViolation, briefViolations } from './brief-check';
import { GENERIC_NAME } from './display-name';
import { MessageComposer } from './message-composer';
import { StoredDraft } from './ai-message.repository';
import { ComposedMessage, LlmSpend, LlmUsage, MessageContext, Prose, proseInputFrom, ProseResult } from './message-content';
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
  /**
   * The LLM's model, prompt version, tokens and cost when it was asked: it wrote the prose, or its completion was
   * refused (unsafe, off brief, malformed) and the template replaced it.
   */
  model?: string;
  promptVersion?: string;
  usage?: LlmUsage;
  costUsd?: number;
  /** Parts the SMS takes, for SMS drafts. */
  smsSegments?: number;
}

export interface DraftOptions extends WriteOptions {
  /** The message's draft as first written (a retry, a redelivered job): composed and checked again, never redrafted. */
  stored?: StoredDraft | null;
}

/** A composed draft and what the safety filter found in it. */
interface Checked {
  draft: Omit<Draft, 'generationSeconds' | 'fallbackReason' | 'violations'>;
  violations: SafetyViolation[];
}

/** Why the template was used instead of the LLM, if it was, and what the refused completion cost. */
interface Refusal {
  fallbackReason: string | null;
  violations: Finding[] | null;
  spent?: LlmSpend;
}

/** The shortest line worth asking the LLM for: the service, the days and "book again" take about 30 units. */
export const MIN_SMS_LINE = 30;

function tooManyParts(segments: number, maxSegments: number): BriefViolation {
  return { rule: BriefRule.SmsParts, detail: `takes ${segments} parts, more than ${maxSegments}` };
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

  /** True when drafts are worth storing before the send: they may cost an LLM call. */
  get storesDrafts(): boolean {
    return this.llm.enabled;
  }

  async draft(context: MessageContext, options: DraftOptions = {}): Promise<Draft> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let refused: Refusal = { fallbackReason: null, violations: null };

    const { stored } = options;
    if (stored) {
      const result = resultOf(stored);
      const checked = this.composeWritten(result, context);
      if (checked.violations.length === 0) {
        return { ...checked.draft, fallbackReason: stored.fallbackReason, violations: stored.safetyViolations as Finding[] | null, generationSeconds: elapsed() };
      }
      refused = { fallbackReason: SAFETY_REJECTED, violations: checked.violations };
    } else if (this.llm.enabled && context.generator !== GeneratorKind.Template) {
      const outcome = await this.tryLlm(() => this.llm.write(proseInputFrom(context), options), context);
      if ('draft' in outcome) return { ...outcome.draft, generationSeconds: elapsed() };
      refused = outcome;
    }

    // A name the filter objects to (profanity, say) gets the generic greeting instead.
    let templateViolations: SafetyViolation[] = [];
    for (const candidate of [context, { ...context, customerName: GENERIC_NAME }]) {
      const checked = this.composeAndCheck(this.templates.write(proseInputFrom(candidate)), candidate);
      if (checked.violations.length === 0) {
        const { spent, ...reason } = refused;
        return { ...checked.draft, ...spent, ...reason, generationSeconds: elapsed() };
      }
      templateViolations = checked.violations;
    }
    throw new DraftRejectedError(templateViolations);
  }

  /**
   * An SMS: with an LLM, its one line (sized to the room the offer, the link and the opt-out hint leave in
   * `maxSegments` parts) checked like email prose and for its parts; else, or when that fails, the longest
   * built-in template that fits and passes the safety filter. A stored draft is composed again, never redrafted.
   */
  async draftSms(context: MessageContext, maxSegments: number, options: DraftOptions = {}): Promise<Draft> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let refused: Refusal = { fallbackReason: null, violations: null };

    const { stored } = options;
    if (stored?.generator === GeneratorKind.OpenAi) {
      const result = resultOf(stored);
      const checked = this.composeWritten(result, context, true);
      const segments = checked.draft.smsSegments;
      if (checked.violations.length === 0 && segments <= maxSegments) {
        return { ...checked.draft, fallbackReason: stored.fallbackReason, violations: stored.safetyViolations as Finding[] | null, generationSeconds: elapsed() };
      }
      refused =
        checked.violations.length > 0
          ? { fallbackReason: SAFETY_REJECTED, violations: checked.violations }
          : { fallbackReason: LlmFailure.OffBrief, violations: [tooManyParts(segments, maxSegments)] };
    } else if (stored) {
      // A template SMS is written the same way again; the reason the LLM's line was not used is kept.
      refused = { fallbackReason: stored.fallbackReason, violations: stored.safetyViolations as Finding[] | null };
    } else if (this.llm.enabled && context.generator !== GeneratorKind.Template) {
      const room = this.sms.lineRoom(context, maxSegments);
      // Too little room for a sentence naming the service and the days (SMS_MAX_SEGMENTS=1): the template writes it.
      if (room >= MIN_SMS_LINE) {
        const outcome = await this.tryLlm(() => this.llm.writeSms(proseInputFrom(context), room, options), context, { maxSegments });
        if ('draft' in outcome) return { ...outcome.draft, generationSeconds: elapsed() };
        refused = outcome;
      }
    }

    let violations: SafetyViolation[] = [];
    for (const candidate of [context, { ...context, customerName: GENERIC_NAME }]) {
      const sms = this.sms.compose(candidate, maxSegments);
      if (!sms) {
        violations = [{ rule: SafetyRule.Length, detail: `no SMS template fits in ${maxSegments} parts` }];
        continue;
      }
      const verdict = this.safety.check({ subject: '', text: sms.text, channel: 'sms' }, this.policyFor(candidate));
      if (verdict.passed) {
        const { spent, ...reason } = refused;
        return {
          message: { subject: '', text: sms.text, html: '' },
          prose: { subject: '', body: sms.text },
          generator: GeneratorKind.Template,
          ...spent,
          ...reason,
          generationSeconds: elapsed(),
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
   * digits, mostly Bengali; for an SMS, `sms.maxSegments` parts at most). A refused draft says why, and the
   * template is used.
   */
  acceptLlm(
    result: ProseResult,
    context: MessageContext,
    sms?: { maxSegments: number },
  ): { draft: Omit<Draft, 'generationSeconds'> } | { fallbackReason: string; violations: Finding[] } {
    const checked = this.composeWritten(result, context, sms !== undefined);
    if (checked.violations.length > 0) return { fallbackReason: SAFETY_REJECTED, violations: checked.violations };
    const offBrief = briefViolations(result.prose, context);
    const segments = checked.draft.smsSegments;
    if (sms && segments !== undefined && segments > sms.maxSegments) offBrief.push(tooManyParts(segments, sms.maxSegments));
    if (offBrief.length > 0) return { fallbackReason: LlmFailure.OffBrief, violations: offBrief };
    return { draft: { ...checked.draft, fallbackReason: null, violations: null } };
  }

  /** Asks the LLM and checks its draft; why it was not used, when it was not. */
  private async tryLlm(
    write: () => Promise<ProseResult>,
    context: MessageContext,
    sms?: { maxSegments: number },
  ): Promise<{ draft: Omit<Draft, 'generationSeconds'> } | Refusal> {
    try {
      const result = await write();
      const accepted = this.acceptLlm(result, context, sms);
      if ('draft' in accepted) return accepted;
      this.logger.warn(`LLM draft refused, ${accepted.fallbackReason} (${accepted.violations.map((v) => v.rule).join(', ')}); using the template`);
      return { ...accepted, spent: spentOf(result) };
    } catch (error) {
      if (!(error instanceof LlmGenerationError)) throw error;
      // An open circuit or a spent budget would log once per customer; the breaker logs when it opens and closes.
      const log = error.reason === LlmFailure.CircuitOpen || error.reason === LlmFailure.Budget ? 'debug' : 'warn';
      this.logger[log](`LLM draft unavailable (${error.reason}: ${error.message}); using the template`);
      return { fallbackReason: error.reason, violations: null, spent: error.spent };
    }
  }

  /**
   * Written prose (the LLM's, or a stored draft) composed and checked. The filter may object to the name in the
   * greeting (profanity, "free") rather than to the prose, which was paid for: then the prose goes out with the
   * generic greeting, as the template would.
   */
  private composeWritten(result: ProseResult, context: MessageContext, sms: true): Checked & { draft: { smsSegments: number } };
  private composeWritten(result: ProseResult, context: MessageContext, sms?: boolean): Checked;
  private composeWritten(result: ProseResult, context: MessageContext, sms = false): Checked {
    const check = (candidate: MessageContext) => (sms ? this.checkSms(result, candidate) : this.composeAndCheck(result, candidate));
    const checked = check(context);
    if (checked.violations.length === 0 || context.customerName === GENERIC_NAME) return checked;
    const generic = check({ ...context, customerName: GENERIC_NAME });
    return generic.violations.length === 0 ? generic : checked;
  }

  /** An SMS line composed with the offer, the link and the opt-out hint, and the safety filter's findings. */
  private checkSms(result: ProseResult, context: MessageContext): Checked & { draft: { smsSegments: number } } {
    const sms = this.sms.composeLine(result.prose.body, context);
    const verdict = this.safety.check({ subject: '', text: sms.text, channel: 'sms' }, this.policyFor(context));
    return { draft: { ...result, message: { subject: '', text: sms.text, html: '' }, smsSegments: sms.segments }, violations: verdict.violations };
  }

  private composeAndCheck(result: ProseResult, context: MessageContext): Checked {
    const message = this.composer.compose(result.prose, context);
    const verdict = this.safety.check({ subject: message.subject, text: message.text }, this.policyFor(context));
    return { draft: { ...result, message }, violations: verdict.violations };
  }

  private policyFor(context: MessageContext): SafetyPolicy {
    return {
      offer: context.offer,
      allowedUrlPrefixes: [this.config.links.bookingBaseUrl, this.config.links.publicBaseUrl],
      trustedTokens: [context.customerName, 'ShoktiAI Team', 'ShoktiAI'],
    };
  }
}

/** A stored draft as the generator's result, to compose and check again. */
function resultOf(stored: StoredDraft): ProseResult {
  return {
    prose: stored.prose,
    generator: stored.generator,
    model: stored.model ?? undefined,
    promptVersion: stored.promptVersion ?? undefined,
    usage: stored.usage ?? undefined,
    costUsd: stored.costUsd ?? undefined,
  };
}

function spentOf(result: ProseResult): LlmSpend | undefined {
  if (result.model === undefined || result.promptVersion === undefined) return undefined;
  return { model: result.model, promptVersion: result.promptVersion, usage: result.usage, costUsd: result.costUsd };
}
