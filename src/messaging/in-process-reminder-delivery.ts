import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { isWithinHours } from '../common/local-time';
import { RequestContext } from '../common/request-context';
import { isValidEmailAddress, isValidPhoneNumber } from '../segmentation/contact-address';
import { AiMessageRepository, ClaimOutcome } from './ai-message.repository';
import { BookingLink, DeepLinkService, TokenScope } from './deep-link.service';
import { displayName } from './display-name';
import { Draft, DraftRejectedError, DraftingService } from './drafting.service';
import { EmailSender } from './email.sender';
import { MessageContext } from './message-content';
import { Channel, DeliveryStatus, Tone, toneFor } from './message.types';
import { MessagingMetrics } from './messaging.metrics';
import { DeliveryOutcome, DeliveryRequest, FailureReason, ReminderDelivery, SkipReason } from './reminder-delivery';
import { SmsSender } from './sms.sender';

const DAY_MS = 86_400_000;

const SKIP_FOR_CLAIM: Record<Exclude<ClaimOutcome, 'claimed'>, SkipReason> = {
  customer_not_found: SkipReason.CustomerNotFound,
  opted_out: SkipReason.OptedOut,
  frequency_capped: SkipReason.FrequencyCapped,
  already_claimed: SkipReason.AlreadyMessagedToday,
};

interface Receipt {
  providerMessageId: string;
  outboxPath?: string;
}

/** A message whose row is claimed: what the draft-and-send step needs. */
interface Claimed {
  messageId: string;
  recipient: string;
  tone: Tone;
  link: BookingLink;
  lastBookingAt: Date;
}

/** Runs the whole per-customer step in this process. */
@Injectable()
export class InProcessReminderDelivery extends ReminderDelivery {
  private readonly logger = new Logger(InProcessReminderDelivery.name);

  constructor(
    private readonly messages: AiMessageRepository,
    private readonly drafting: DraftingService,
    private readonly links: DeepLinkService,
    private readonly email: EmailSender,
    private readonly sms: SmsSender,
    private readonly metrics: MessagingMetrics,
    private readonly config: AppConfig,
  ) {
    super();
  }

  /** Lines logged on the way carry the customer's id as a field, and the message's once its row is claimed. */
  deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
    return RequestContext.with({ customerId: request.customer.id }, () => this.claimAndSend(request));
  }

  private async claimAndSend(request: DeliveryRequest): Promise<DeliveryOutcome> {
    const { customer, service, offer, channel } = request;
    const recipient = channel === Channel.Sms ? customer.phone : customer.email;
    if (customer.optedOutAt) return this.skip(SkipReason.OptedOut);
    if (!recipient) {
      return this.skip(channel === Channel.Sms ? SkipReason.NoPhoneNumber : SkipReason.NoEmailAddress);
    }
    // Before the claim: a bad address leaves no row behind and does not count against the cap.
    if (channel === Channel.Sms ? !isValidPhoneNumber(recipient) : !isValidEmailAddress(recipient)) {
      return this.skip(channel === Channel.Sms ? SkipReason.InvalidPhoneNumber : SkipReason.InvalidEmailAddress);
    }
    if (!customer.lastBookingAt) return this.skip(SkipReason.NoBookingHistory);
    if (channel === Channel.Sms && isWithinHours(new Date(), this.config.campaign.timeZone, this.config.sms.quietHours)) {
      return this.skip(SkipReason.SmsQuietHours);
    }

    const messageId = randomUUID();
    const promoCode = offer?.promoCode ?? null;
    const link = this.links.bookingLink(
      { sub: customer.id, message_id: messageId, service_id: service.id, promo_code: promoCode, scope: TokenScope.Booking },
      request.ttlHours,
    );
    const tone = toneFor(customer.totalBookings);
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
    if (claim !== 'claimed') return this.skip(SKIP_FOR_CLAIM[claim]);
    const claimed = { messageId, recipient, tone, link, lastBookingAt: customer.lastBookingAt };
    return RequestContext.with({ messageId }, () => this.draftAndSend(request, claimed));
  }

  private async draftAndSend(request: DeliveryRequest, claimed: Claimed): Promise<DeliveryOutcome> {
    const { customer, service, offer, channel } = request;
    const { messageId, recipient, tone, link, lastBookingAt } = claimed;
    const tracked = channel === Channel.Sms || this.config.tracking.emailClicks;
    const trackedUrl = this.links.clickUrl(messageId);
    const unsubscribeUrl = this.links.unsubscribeUrl({ sub: customer.id, message_id: messageId });
    const context: MessageContext = {
      customerName: displayName(customer.name),
      serviceNameBn: service.nameBn,
      serviceEmoji: service.emoji,
      daysSinceLastBooking: Math.max(0, Math.floor((Date.now() - lastBookingAt.getTime()) / DAY_MS)),
      tone,
      messageType: request.messageType,
      offer,
      ttlHours: request.ttlHours,
      // SMS have no room for the signed link: they carry the short click-tracking link to it.
      bookingUrl: tracked ? trackedUrl : link.url,
      shortBookingUrl: tracked ? trackedUrl : this.config.links.bookingBaseUrl,
      unsubscribeUrl,
      openPixelUrl: channel === Channel.Email && this.config.tracking.emailOpens ? this.links.openPixelUrl(messageId) : undefined,
    };

    let draft: Draft;
    try {
      draft =
        channel === Channel.Sms
          ? this.drafting.draftSms(context, this.config.sms.maxSegments)
          : await this.drafting.draft(context);
    } catch (error) {
      if (!(error instanceof DraftRejectedError)) throw error;
      await this.messages.markFailed(messageId, error.message);
      return this.fail(request, messageId, FailureReason.SafetyRejected, error.message);
    }
    this.metrics.generated(draft);
    const record = {
      subject: draft.message.subject,
      messageText: draft.message.text,
      generator: draft.generator,
      fallbackReason: draft.fallbackReason,
      safetyViolations: draft.violations,
      smsSegments: draft.smsSegments ?? null,
    };

    let receipt: Receipt;
    try {
      receipt =
        channel === Channel.Sms
          ? await this.sms.send({ messageId, to: recipient, text: draft.message.text })
          : await this.email.send({
              messageId,
              to: recipient,
              subject: draft.message.subject,
              text: draft.message.text,
              html: draft.message.html,
              unsubscribeUrl,
            });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await this.messages.recordDelivery(messageId, {
        ...record,
        status: DeliveryStatus.Failed,
        providerMessageId: null,
        error: reason,
      });
      return this.fail(request, messageId, FailureReason.DeliveryFailed, reason);
    }
    // Outside the try: once the channel has taken the message it must never be recorded as failed (a
    // failed row does not count against the cap, so it could be sent again). If this write fails the
    // row stays queued, which does count.
    await this.messages.recordDelivery(messageId, {
      ...record,
      status: DeliveryStatus.Sent,
      providerMessageId: receipt.providerMessageId,
      error: null,
    });
    this.metrics.sent(request, 'sent', draft.smsSegments);
    return {
      status: 'sent',
      messageId,
      generator: draft.generator,
      fallbackReason: draft.fallbackReason,
      subject: draft.message.subject,
      outboxPath: receipt.outboxPath,
    };
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
