import { Injectable, Logger } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { createHash } from 'node:crypto';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { calendarDaysSince } from '../common/local-time';
import { Metric } from '../metrics/metric-names';
import { CustomerProfile } from '../segmentation/customer-profile';
import { ServiceInfo } from '../segmentation/service.repository';
import { displayName } from './display-name';
import { Draft, DraftingService } from './drafting.service';
import { costUsd, LlmMetrics } from './llm.metrics';
import { MessageContext, Offer, ProseInput, proseInputFrom, ProseResult } from './message-content';
import { Channel, GeneratorKind, MessageType, toneFor } from './message.types';
import { BatchResult, BatchSubmission, OpenAiBatches } from './openai-batches';
import { emailRequest, factsOf, LlmGenerationError, OpenAiProseGenerator, parseProse, PROMPT_VERSION, usageOf } from './openai-prose.generator';
import { DraftKey, PreparedDraft, PreparedDraftRepository } from './prepared-draft.repository';

/** A customer the next run will reach, with the service their last booking was for. */
export interface PrepareTarget {
  customer: CustomerProfile;
  service: ServiceInfo;
}

/** What every draft of one prepare shares. */
export interface PrepareOptions {
  channel: Channel;
  messageType: MessageType;
  offer: Offer | null;
  /** The local day (CAMPAIGN_TIMEZONE) of the send: days since the last booking are counted to it. */
  sendDay: string;
  /** When the send starts. */
  sendAt: Date;
  /** When the send window closes: the drafts are of no use after it. */
  expiresAt: Date;
  signal?: AbortSignal;
}

/** A prepared draft accepted for a message, and the key the message's sending mark deletes it by. */
export interface UsedDraft {
  draft: Draft;
  key: { customerId: string; channel: Channel; factsHash: string };
}

export interface PrepareTally {
  /** Drafts written and stored. */
  drafted: number;
  /** The LLM gave none, or one acceptLlm refused: drafted at send time. */
  failed: number;
  /** Not asked: a fresh draft with the same facts is stored already, or no booking to speak of. */
  skipped: number;
}

interface Planned {
  key: DraftKey;
  hash: string;
  input: ProseInput;
  context: MessageContext;
}

/**
 * Email drafts written ahead of a campaign (live, or through the Batch API with OPENAI_BATCH) and used by its
 * send. A draft is keyed by customer and channel and carries the hash of everything the prompt saw; the send
 * uses it only when its own facts hash the same and the draft has not expired, and checks it again with
 * DraftingService.acceptLlm, as it does a live one.
 */
@Injectable()
export class PreparedDrafts {
  private readonly logger = new Logger(PreparedDrafts.name);

  constructor(
    private readonly drafts: PreparedDraftRepository,
    private readonly drafting: DraftingService,
    private readonly llm: OpenAiProseGenerator,
    private readonly batches: OpenAiBatches,
    private readonly metrics: LlmMetrics,
    private readonly config: AppConfig,
    @InjectMetric(Metric.PreparedDrafts) private readonly outcomes: Counter<string>,
  ) {
    for (const outcome of ['written', 'used', 'stale', 'refused']) outcomes.inc({ outcome }, 0);
  }

  /** True when drafts can be prepared: an LLM is configured. */
  get enabled(): boolean {
    return this.llm.enabled;
  }

  get batched(): boolean {
    return this.config.openai.batch.enabled;
  }

  /**
   * The customer's prepared draft, when it was written for these facts and is fresh,
   * accepted again for this message; null otherwise (the caller drafts as usual).
   */
  async use(key: DraftKey, context: MessageContext, found?: Promise<PreparedDraft | null>, now = new Date()): Promise<UsedDraft | null> {
    const stored = await (found ?? this.find(key.customerId, key.channel));
    if (!stored) return null;
    const stale =
      stored.expiresAt <= now ||
      stored.serviceId !== key.serviceId ||
      stored.tone !== key.tone ||
      stored.messageType !== key.messageType ||
      stored.factsHash !== factsHash(this.llm.model, proseInputFrom(context));
    if (stale) {
      this.outcomes.inc({ outcome: 'stale' });
      this.logger.debug('Prepared draft not used: its facts changed or it expired');
      return null;
    }
    const result: ProseResult = {
      prose: stored.prose,
      generator: GeneratorKind.OpenAi,
      model: stored.model,
      promptVersion: stored.promptVersion,
      usage: stored.usage ?? undefined,
      // What the draft cost when it was written (half price through the Batch API): the message keeps that.
      costUsd: stored.costUsd ?? undefined,
    };
    const accepted = this.drafting.acceptLlm(result, context);
    if (!('draft' in accepted)) {
      this.outcomes.inc({ outcome: 'refused' });
      this.logger.warn(`Prepared draft refused at send (${accepted.fallbackReason}); drafting again`);
      return null;
    }
    this.outcomes.inc({ outcome: 'used' });
    return { draft: { ...accepted.draft, generationSeconds: 0 }, key: { customerId: key.customerId, channel: key.channel, factsHash: stored.factsHash } };
  }

  /**
   * The customer's stored draft, unchecked: the send looks it up while it claims the message (one round trip
   * instead of two), then `use` checks it. A failed lookup is no draft: the message is drafted live.
   */
  find(customerId: string, channel: Channel): Promise<PreparedDraft | null> {
    return this.drafts.find(customerId, channel).catch((error: unknown) => {
      this.logger.warn(`Prepared draft lookup failed; drafting live: ${error instanceof Error ? error.message : error}`);
      return null;
    });
  }

  /** Deletes drafts past their send day, keeping the table to about one draft per customer and channel. */
  deleteExpired(now = new Date()): Promise<number> {
    return this.drafts.deleteExpired(now);
  }

  /** One page of customers, each drafted by a live call (OPENAI_CONCURRENCY at once, within the budget). */
  async draftLive(targets: PrepareTarget[], options: PrepareOptions): Promise<PrepareTally> {
    const { planned, skipped } = await this.plan(targets, options);
    const written = await Promise.all(
      planned.map(async (item) => {
        if (options.signal?.aborted) return null;
        try {
          // A draft is of use until its send window closes: a budgeted call may wait for its turn until then.
          return this.accept(item, await this.llm.write(item.input, { notAfter: options.expiresAt.getTime() }), options, false);
        } catch (error) {
          if (!(error instanceof LlmGenerationError)) throw error;
          this.logger.debug(`No prepared draft (${error.reason}); drafted at send time`);
          return null;
        }
      }),
    );
    return this.store(written, planned.length, skipped);
  }

  /** A Batch API submission for this prepare; `submitted` hears the batch ids as each batch is created. */
  openBatch(options: PrepareOptions, submitted: (batchIds: string[]) => Promise<void>): BatchSubmission {
    return this.batches.open({ purpose: 'smartengage_prepare', send_day: options.sendDay }, submitted);
  }

  /**
   * One page of customers added to the batch as one line each; those whose fresh draft has the same facts are
   * skipped. How many were skipped.
   */
  async addToBatch(submission: BatchSubmission, targets: PrepareTarget[], options: PrepareOptions): Promise<number> {
    const { planned, skipped } = await this.plan(targets, options);
    const model = this.llm.model;
    for (const item of planned) await submission.add({ customId: customIdOf(item.key, item.hash), body: emailRequest(model, factsOf(item.input)) });
    return skipped;
  }

  /**
   * Collects batches, this prepare's or those of an earlier one that stopped before collecting them (a restart,
   * a lost lock), a thousand answers at a time. Each line names its customer and the hash of the facts it was
   * asked with: an answer is stored only for a customer whose facts (re-read by `targetsOf`) still hash the same
   * and who has no fresh draft for them yet. How many drafts were stored.
   */
  async collectBatches(
    batchIds: string[],
    options: PrepareOptions,
    targetsOf: (customerIds: string[]) => Promise<PrepareTarget[]>,
  ): Promise<number> {
    let drafted = 0;
    for (const batchId of batchIds) {
      await this.batches.collect(
        batchId,
        async (results) => {
          const customerIds = [...new Set(results.map((result) => result.customId.split(':')[0]))];
          const { planned } = await this.plan(await targetsOf(customerIds), options);
          const written = this.accepted(results, new Map(planned.map((item) => [customIdOf(item.key, item.hash), item])), options);
          drafted += (await this.store(written, written.length, 0)).drafted;
        },
        options.signal,
      );
    }
    return drafted;
  }

  /**
   * The drafts of the answered lines that name a planned customer, as acceptLlm takes them; null for a refusal.
   * Tokens and cost are counted for those answers only: a batch collected again after an interrupted prepare
   * would otherwise count its stored answers twice (answers for customers whose facts changed go uncounted).
   */
  private accepted(results: BatchResult[], byId: Map<string, Planned>, options: PrepareOptions): (PreparedDraft | null)[] {
    const model = this.llm.model;
    const written: (PreparedDraft | null)[] = [];
    for (const result of results) {
      if ('error' in result) continue;
      const item = byId.get(result.customId);
      if (!item) continue;
      byId.delete(result.customId); // one answer per request, even if both files name it
      const usage = usageOf(result.completion);
      const cost = this.metrics.used(model, usage, true);
      const message = result.completion.choices[0]?.message;
      if (!message || message.refusal) continue;
      try {
        const prose = parseProse(message.content);
        const answer = { prose, generator: GeneratorKind.OpenAi, model, promptVersion: PROMPT_VERSION, usage, costUsd: cost };
        written.push(this.accept(item, answer, options, true));
      } catch (error) {
        if (!(error instanceof LlmGenerationError)) throw error;
      }
    }
    return written;
  }

  /** The targets' drafts as the send will see them, less those stored already for the same facts. */
  private async plan(targets: PrepareTarget[], options: PrepareOptions): Promise<{ planned: Planned[]; skipped: number }> {
    const model = this.llm.model;
    const planned: Planned[] = [];
    for (const { customer, service } of targets) {
      if (!customer.lastBookingAt) continue;
      const tone = toneFor(customer.totalBookings);
      const context = this.contextFor(customer, service, tone, options);
      const input = proseInputFrom(context);
      const key = { customerId: customer.id, channel: options.channel, serviceId: service.id, tone, messageType: options.messageType };
      planned.push({ key, hash: factsHash(model, input), input, context });
    }
    const fresh = await this.drafts.freshHashes(planned.map((item) => item.key.customerId), options.channel, new Date());
    const todo = planned.filter((item) => fresh.get(item.key.customerId) !== item.hash);
    return { planned: todo, skipped: targets.length - todo.length };
  }

  /**
   * The message as far as it is known before its send: the real offer and the configured link prefixes stand in
   * for the message's own signed links, so acceptLlm checks the prose as the send will.
   */
  private contextFor(customer: CustomerProfile, service: ServiceInfo, tone: DraftKey['tone'], options: PrepareOptions): MessageContext {
    const { bookingBaseUrl, publicBaseUrl, defaultTtlHours } = this.config.links;
    return {
      customerName: displayName(customer.name),
      serviceNameBn: service.nameBn,
      serviceEmoji: service.emoji,
      daysSinceLastBooking: calendarDaysSince(customer.lastBookingAt!, options.sendDay, this.config.campaign.timeZone),
      tone,
      messageType: options.messageType,
      offer: options.offer,
      ttlHours: defaultTtlHours,
      bookingUrl: bookingBaseUrl,
      shortBookingUrl: bookingBaseUrl,
      unsubscribeUrl: `${publicBaseUrl}/unsubscribe`,
    };
  }

  private accept(item: Planned, result: ProseResult, options: PrepareOptions, batch: boolean): PreparedDraft | null {
    const accepted = this.drafting.acceptLlm(result, item.context);
    if (!('draft' in accepted)) {
      this.logger.warn(`Prepared draft refused (${accepted.fallbackReason}); drafted at send time`);
      return null;
    }
    const usage = result.usage ?? null;
    return {
      ...item.key,
      factsHash: item.hash,
      prose: result.prose,
      model: result.model ?? this.llm.model,
      promptVersion: result.promptVersion ?? PROMPT_VERSION,
      usage,
      costUsd: usage ? costUsd(usage, this.config.openai.pricePerMtok, batch) : null,
      batch,
      expiresAt: options.expiresAt,
    };
  }

  private async store(written: (PreparedDraft | null)[], asked: number, skipped: number): Promise<PrepareTally> {
    const drafts = written.filter((draft): draft is PreparedDraft => draft !== null);
    await this.drafts.save(drafts);
    if (drafts.length > 0) this.outcomes.inc({ outcome: 'written' }, drafts.length);
    return { drafted: drafts.length, failed: asked - drafts.length, skipped };
  }
}

/**
 * sha256 of the model, the prompt version and the facts the prompt sees (factsOf): a draft is used only for
 * the very request it answered.
 */
export function factsHash(model: string, input: ProseInput): string {
  return createHash('sha256').update(model).update('\n').update(PROMPT_VERSION).update('\n').update(factsOf(input)).digest('hex');
}

/**
 * A batch line's custom_id: the draft's key (one line per customer and channel) and the hash of the facts it
 * asks about, so a prepare that collects it later knows whether the answer still fits.
 */
function customIdOf(key: DraftKey, hash: string): string {
  return `${key.customerId}:${key.channel}:${hash}`;
}
