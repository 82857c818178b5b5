import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { calendarDaysSince, isWithinHours, localDay } from '../common/local-time';
import { RequestContext } from '../common/request-context';
import { Slots } from '../common/slots';
import { isValidEmailAddress, isValidPhoneNumber } from '../segmentation/contact-address';
import { AiMessageEntity } from './ai-message.entity';
import { AiMessageRepository, ClaimOutcome, DraftRecord, INTERRUPTED_WHILE_SENDING, StoredDraft } from './ai-message.repository';
import { BookingLink, DeepLinkService, TokenScope } from './deep-link.service';
import { displayName } from './display-name';
import { Draft, DraftRejectedError, DraftingService } from './drafting.service';
import { MessageContext } from './message-content';
import { Dispatch, DispatchResult, MessageDispatcher } from './message-dispatcher';
import { DeliveryStatus, SENT_OR_LATER } from './delivery-status';
import { Channel, GeneratorKind, Tone, toneFor } from './message.types';
import { MessagingMetrics } from './messaging.metrics';
import { PreparedDraft } from './prepared-draft.repository';
import { PreparedDrafts } from './prepared-drafts.service';
import { DeliveryOutcome, DeliveryRequest, FailureReason, ReminderDelivery, SkipReason } from './reminder-delivery';


const SKIP_FOR_CLAIM: Record<Exclude<ClaimOutcome, 'claimed' | 'exists'>, SkipReason> = {
  customer_not_found: SkipReason.CustomerNotFound,
  opted_out: SkipReason.OptedOut,
  frequency_capped: SkipReason.FrequencyCapped,
  already_claimed: SkipReason.AlreadyMessagedToday,
};

/** A message whose row is claimed: what the draft-and-send step needs. */
interface Claimed {
  messageId: string;
  recipient: string;
  tone: Tone;
  link: BookingLink;
  lastBookingAt: Date;
  /** The customer's prepared draft, looked up during the claim (email with an LLM only). */
  prepared: Promise<PreparedDraft | null> | null;
}

/** Runs the whole per-customer step in this process. */
@Injectable()
export class ReminderDeliveryStep extends ReminderDelivery {
  private readonly logger = new Logger(ReminderDeliveryStep.name);
  /** Messages claimed here and not finished yet, for settleInFlight. */
  private readonly inFlight = new Set<string>();
  /**
   * With an LLM, customers waiting for a draft (email or SMS) hold no send slot: the fan-out (or the worker)
   * takes OPENAI_CONCURRENCY more customers at once, and their sends stay at CAMPAIGN_CONCURRENCY
   * (WORKER_CONCURRENCY in a worker) here.
   */
  private readonly sendSlots: Slots | null;

  constructor(
    private readonly messages: AiMessageRepository,
    private readonly drafting: DraftingService,
    private readonly links: DeepLinkService,
    private readonly dispatcher: MessageDispatcher,
    private readonly metrics: MessagingMetrics,
    private readonly config: AppConfig,
    private readonly prepared: PreparedDrafts,
  ) {
    super();
    this.sendSlots = config.openai.apiKey
      ? new Slots(config.redis.url ? config.queue.workerConcurrency : config.campaign.concurrency)
      : null;
  }

  /** Lines logged on the way carry the customer's id as a field, and the message's once its row is claimed. */
  deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
    return RequestContext.with({ customerId: request.customer.id }, () => this.claimAndSend(request));
  }

  private async claimAndSend(request: DeliveryRequest): Promise<DeliveryOutcome> {
    const { customer, service, offer, channel } = request;
    const skip = precheck(request, this.config);
    if (skip) return this.skip(skip);
    const recipient = (channel === Channel.Sms ? customer.phone : customer.email)!;

    const messageId = request.messageId ?? randomUUID();
    const promoCode = offer?.promoCode ?? null;
    const link = this.links.bookingLink(
      { sub: customer.id, message_id: messageId, service_id: service.id, promo_code: promoCode, scope: TokenScope.Booking },
      request.ttlHours,
    );
    const tone = request.tone ?? toneFor(customer.totalBookings);
    // A draft prepared ahead is looked up while the message is claimed: its round trip overlaps the claim's.
    const prepared = this.wantsPrepared(request) ? this.prepared.find(customer.id, channel) : null;
    const claim = await this.messages.claim({
      id: messageId,
      userId: customer.id,
      messageType: request.messageType,
      channel,
      recipient,
      serviceId: service.id,
      promoCode,
      tone,
      correlationId: request.correlationId,
      linkExpiresAt: link.expiresAt,
      bypassFrequencyCap: request.bypassFrequencyCap,
      frequencyCap: this.config.frequencyCap,
      campaignDay: request.campaign?.day ?? null,
      jobRunId: request.campaign?.jobRunId ?? null,
    });
    if (claim !== 'claimed' && claim !== 'exists') return this.skip(SKIP_FOR_CLAIM[claim]);
    const claimed = { messageId, recipient, tone, link, lastBookingAt: customer.lastBookingAt!, prepared };
    return RequestContext.with({ messageId }, () => this.continueClaimed(request, claim, claimed));
  }

  /** A row that already existed (a redelivered request) continues from its state; a new one is drafted and sent. */
  private async continueClaimed(
    request: DeliveryRequest,
    claim: 'claimed' | 'exists',
    claimed: Claimed,
  ): Promise<DeliveryOutcome> {
    const { messageId } = claimed;
    this.inFlight.add(messageId);
    try {
      let attempts = 0;
      let stored: StoredDraft | null = null;
      if (claim === 'exists') {
        const row = await this.messages.findById(messageId);
        if (row && row.deliveryStatus !== DeliveryStatus.Queued) return await this.resume(request, row);
        // Queued again after a deferred retry (queue mode), or redelivered: the attempts so far count towards the
        // limit, and a draft already written is sent again, never written (or paid for) twice.
        attempts = row?.attempts ?? 0;
        stored = row ? storedDraftOf(row) : null;
      }
      return await this.draftAndSend(request, claimed, attempts, stored);
    } finally {
      this.inFlight.delete(messageId);
    }
  }

  async settleInFlight(): Promise<number> {
    if (this.inFlight.size === 0) return 0;
    const settled = await this.messages.settleInterrupted({ ids: [...this.inFlight] }, [Channel.Email, Channel.Sms]);
    for (const channel of settled.released) this.metrics.settled(channel, DeliveryStatus.Queued, DeliveryStatus.Failed);
    for (const channel of settled.unknown) this.metrics.settled(channel, DeliveryStatus.Sending, DeliveryStatus.Unknown);
    return settled.released.length + settled.unknown.length;
  }

  private async draftAndSend(
    request: DeliveryRequest,
    claimed: Claimed,
    attempts: number,
    stored: StoredDraft | null,
  ): Promise<DeliveryOutcome> {
    const { customer, service, offer, channel } = request;
    const { messageId, recipient, tone, link, lastBookingAt } = claimed;
    const tracked = channel === Channel.Sms || this.config.tracking.emailClicks;
    const trackedUrl = this.links.clickUrl(messageId);
    const unsubscribeUrl = this.links.unsubscribeUrl({ sub: customer.id, message_id: messageId });
    const context: MessageContext = {
      customerName: displayName(customer.name),
      serviceNameBn: service.nameBn,
      serviceEmoji: service.emoji,
      // Calendar days in CAMPAIGN_TIMEZONE to the campaign's day, as a prepare counts them to the send day: a draft
      // prepared at 02:00 matches the send at 10:00, and a window past midnight (20-2) still counts to its first day.
      daysSinceLastBooking: calendarDaysSince(
        lastBookingAt,
        request.campaign?.day ?? localDay(new Date(), this.config.campaign.timeZone),
        this.config.campaign.timeZone,
      ),
      tone,
      generator: request.generator,
      messageType: request.messageType,
      offer,
      ttlHours: request.ttlHours,
      // SMS have no room for the signed link: they carry the short click-tracking link to it.
      bookingUrl: tracked ? trackedUrl : link.url,
      shortBookingUrl: tracked ? trackedUrl : this.config.links.bookingBaseUrl,
      unsubscribeUrl,
      openPixelUrl: channel === Channel.Email && this.config.tracking.emailOpens ? this.links.openPixelUrl(messageId) : undefined,
    };

    // A draft prepared ahead for these very facts: no LLM call at send time.
    const prepared =
      claimed.prepared && !stored
        ? await this.prepared.use({ customerId: customer.id, channel, serviceId: service.id, tone, messageType: request.messageType }, context, claimed.prepared)
        : null;
    let draft: Draft;
    try {
      const options = { notAfter: request.campaign?.windowClosesAt, stored };
      draft =
        prepared?.draft ??
        (channel === Channel.Sms
          ? await this.drafting.draftSms(context, this.config.sms.maxSegments, options)
          : await this.drafting.draft(context, options));
    } catch (error) {
      if (!(error instanceof DraftRejectedError)) throw error;
      await this.messages.markFailed(messageId, error.message);
      return this.fail(request, messageId, FailureReason.SafetyRejected, error.message);
    }
    if (!stored) {
      this.metrics.generated(draft);
      // Stored before the send (and before waiting for a send slot): if this attempt is retried or its job
      // redelivered, the LLM is not asked again. A prepared draft stays in prepared_drafts until the sending mark
      // stores it on the row and deletes it, in one statement: one statement fewer per customer.
      if (this.drafting.storesDrafts && !prepared) await this.messages.storeDraft(messageId, toStored(draft));
    }
    const record: DraftRecord = {
      subject: draft.message.subject,
      messageText: draft.message.text,
      generator: draft.generator,
      fallbackReason: draft.fallbackReason,
      safetyViolations: draft.violations,
      smsSegments: draft.smsSegments ?? null,
      stored: prepared ? toStored(prepared.draft) : undefined,
      prepared: prepared?.key,
    };
    const result = await this.send({
      messageId,
      channel,
      recipient,
      draft: record,
      email: { html: draft.message.html, unsubscribeUrl },
      attempts,
      signal: request.signal,
      deferRetries: request.deferRetries,
    });
    return this.outcome(request, messageId, record, result);
  }

  /** The row already existed (a redelivered request) and has left `queued`: continue from its state. */
  private async resume(request: DeliveryRequest, row: AiMessageEntity): Promise<DeliveryOutcome> {
    const draft = draftOf(row);
    if (SENT_OR_LATER.has(row.deliveryStatus)) return sent(row.id, draft);
    if (row.deliveryStatus === DeliveryStatus.Sending && row.channel === Channel.Sms) {
      // The gateway dedupes by Idempotency-Key (the message id): handing the SMS over again is safe.
      const attempts = await this.messages.touchSending(row.id);
      if (attempts !== null) {
        const { id: messageId, recipient, channel } = row;
        const result = await this.send({
          messageId,
          channel,
          recipient,
          draft,
          attempts,
          resumed: true,
          signal: request.signal,
          deferRetries: request.deferRetries,
        });
        return this.outcome(request, messageId, draft, result);
      }
    } else if (row.deliveryStatus === DeliveryStatus.Sending) {
      // Email: the earlier hand-over may have reached the mail server, and sending again could deliver it twice.
      await this.messages.recordAttempt(row.id, { status: DeliveryStatus.Unknown, error: INTERRUPTED_WHILE_SENDING });
      this.metrics.settled(row.channel, DeliveryStatus.Sending, DeliveryStatus.Unknown);
    }
    const current = (await this.messages.findById(row.id)) ?? row;
    const reason = current.deliveryStatus === DeliveryStatus.Unknown ? FailureReason.DeliveryUnknown : FailureReason.DeliveryFailed;
    return this.fail(request, row.id, reason, current.lastError ?? current.deliveryStatus);
  }

  /** Email the LLM may write, with an LLM configured: a draft prepared ahead may stand in for the call. */
  private wantsPrepared(request: DeliveryRequest): boolean {
    return request.channel === Channel.Email && request.generator !== GeneratorKind.Template && this.drafting.storesDrafts;
  }

  private async send(dispatch: Dispatch): Promise<DispatchResult> {
    const release = await this.sendSlots?.acquire();
    try {
      return await this.dispatcher.dispatch(dispatch);
    } finally {
      release?.();
    }
  }

  private outcome(request: DeliveryRequest, messageId: string, draft: DraftRecord, result: DispatchResult): DeliveryOutcome {
    switch (result.status) {
      case 'sent':
        this.metrics.sent(request, 'sent', draft.smsSegments ?? undefined);
        return sent(messageId, draft, result.outboxPath);
      case 'abandoned':
        return this.fail(request, messageId, FailureReason.DeliveryFailed, 'released by the sweeper before sending');
      case 'paused':
        // Not processed: the resume delivers to this customer again, with this message id, and retries it.
        this.logger.log({ msg: 'Stopped while waiting to retry: left queued for the resume' });
        return { status: 'skipped', reason: SkipReason.ShuttingDown };
      case 'unknown':
        return this.fail(request, messageId, FailureReason.DeliveryUnknown, result.error);
      case 'failed':
        return this.fail(request, messageId, FailureReason.DeliveryFailed, result.error);
    }
  }

  private skip(reason: SkipReason): DeliveryOutcome {
    this.metrics.skipped(reason);
    this.logger.log({ msg: `Customer skipped: ${reason}`, reason });
    return { status: 'skipped', reason };
  }

  private fail(request: DeliveryRequest, messageId: string, reason: FailureReason, error: string): DeliveryOutcome {
    this.metrics.sent(request, 'failed');
    this.logger.warn({ msg: `Message failed: ${reason} (${error})`, reason });
    return { status: 'failed', messageId, reason, error };
  }
}

/**
 * The checks before the claim, on what the request already carries: a customer who fails one is never messaged
 * (and, under an experiment, never assigned). A bad address leaves no row behind and does not count against the cap.
 */
export function precheck(request: DeliveryRequest, config: AppConfig): SkipReason | null {
  const { customer, channel } = request;
  const recipient = channel === Channel.Sms ? customer.phone : customer.email;
  if (customer.optedOutAt) return SkipReason.OptedOut;
  if (!recipient) return channel === Channel.Sms ? SkipReason.NoPhoneNumber : SkipReason.NoEmailAddress;
  if (channel === Channel.Sms ? !isValidPhoneNumber(recipient) : !isValidEmailAddress(recipient)) {
    return channel === Channel.Sms ? SkipReason.InvalidPhoneNumber : SkipReason.InvalidEmailAddress;
  }
  if (!customer.lastBookingAt) return SkipReason.NoBookingHistory;
  if (channel === Channel.Sms && isWithinHours(new Date(), config.campaign.timeZone, config.sms.quietHours)) {
    return SkipReason.SmsQuietHours;
  }
  return null;
}

function sent(messageId: string, draft: DraftRecord, outboxPath?: string): DeliveryOutcome {
  return { status: 'sent', messageId, generator: draft.generator, fallbackReason: draft.fallbackReason, subject: draft.subject, outboxPath };
}

/** The draft a `queued` row stored when it was first written, if any. */
function storedDraftOf(row: AiMessageEntity): StoredDraft | null {
  if (row.proseBody === null || row.proseSubject === null || row.generator === null) return null;
  const usage =
    row.promptTokens === null
      ? null
      : { input: row.promptTokens, cachedInput: row.cachedTokens ?? 0, output: row.completionTokens ?? 0 };
  return {
    prose: { subject: row.proseSubject, body: row.proseBody },
    generator: row.generator,
    fallbackReason: row.fallbackReason,
    safetyViolations: row.safetyViolations,
    model: row.llmModel,
    promptVersion: row.promptVersion,
    usage,
    costUsd: row.llmCostUsd,
  };
}

function toStored(draft: Draft): StoredDraft {
  return {
    prose: draft.prose,
    generator: draft.generator,
    fallbackReason: draft.fallbackReason,
    safetyViolations: draft.violations,
    model: draft.model ?? null,
    promptVersion: draft.promptVersion ?? null,
    usage: draft.usage ?? null,
    costUsd: draft.costUsd ?? null,
  };
}

/** The draft a row stored with its `sending` mark. */
function draftOf(row: AiMessageEntity): DraftRecord {
  return {
    subject: row.subject ?? '',
    messageText: row.messageText ?? '',
    generator: row.generator ?? GeneratorKind.Template,
    fallbackReason: row.fallbackReason,
    safetyViolations: row.safetyViolations,
    smsSegments: row.smsSegments,
  };
}
