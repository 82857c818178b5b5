import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { AiMessageRepository, ClaimOutcome } from './ai-message.repository';
import { DeepLinkService } from './deep-link.service';
import { displayName } from './display-name';
import { DraftRejectedError, DraftingService } from './drafting.service';
import { EmailSender } from './email.sender';
import { MessageContext } from './message-content';
import { DeliveryStatus, toneFor } from './message.types';
import { MessagingMetrics } from './messaging.metrics';
import { DeliveryOutcome, DeliveryRequest, FailureReason, ReminderDelivery, SkipReason } from './reminder-delivery';

const DAY_MS = 86_400_000;

const SKIP_FOR_CLAIM: Record<Exclude<ClaimOutcome, 'claimed'>, SkipReason> = {
  customer_not_found: SkipReason.CustomerNotFound,
  opted_out: SkipReason.OptedOut,
  frequency_capped: SkipReason.FrequencyCapped,
  already_claimed: SkipReason.AlreadyMessagedToday,
};

/** Runs the whole per-customer step in this process. */
@Injectable()
export class InProcessReminderDelivery extends ReminderDelivery {
  private readonly logger = new Logger(InProcessReminderDelivery.name);

  constructor(
    private readonly messages: AiMessageRepository,
    private readonly drafting: DraftingService,
    private readonly links: DeepLinkService,
    private readonly email: EmailSender,
    private readonly metrics: MessagingMetrics,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
    const { customer, service, offer } = request;
    if (customer.optedOutAt) return this.skip(request, SkipReason.OptedOut);
    if (!customer.email) return this.skip(request, SkipReason.NoEmailAddress);
    if (!customer.lastBookingAt) return this.skip(request, SkipReason.NoBookingHistory);

    const messageId = randomUUID();
    const promoCode = offer?.promoCode ?? null;
    const link = this.links.bookingLink(
      { sub: customer.id, message_id: messageId, service_id: service.id, promo_code: promoCode },
      request.ttlHours,
    );
    const tone = toneFor(customer.totalBookings);
    const claim = await this.messages.claim({
      id: messageId,
      userId: customer.id,
      messageType: request.messageType,
      channel: request.channel,
      recipient: customer.email,
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
    if (claim !== 'claimed') return this.skip(request, SKIP_FOR_CLAIM[claim]);

    const unsubscribeUrl = this.links.unsubscribeUrl({ sub: customer.id, message_id: messageId });
    const context: MessageContext = {
      customerName: displayName(customer.name),
      serviceNameBn: service.nameBn,
      serviceEmoji: service.emoji,
      daysSinceLastBooking: Math.max(0, Math.floor((Date.now() - customer.lastBookingAt.getTime()) / DAY_MS)),
      tone,
      messageType: request.messageType,
      offer,
      ttlHours: request.ttlHours,
      bookingUrl: link.url,
      unsubscribeUrl,
    };

    let draft;
    try {
      draft = await this.drafting.draft(context);
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
    };

    try {
      const receipt = await this.email.send({
        messageId,
        to: customer.email,
        subject: draft.message.subject,
        text: draft.message.text,
        html: draft.message.html,
        unsubscribeUrl,
      });
      await this.messages.recordDelivery(messageId, {
        ...record,
        status: DeliveryStatus.Sent,
        providerMessageId: receipt.providerMessageId,
        error: null,
      });
      this.metrics.sent(request, 'sent');
      return {
        status: 'sent',
        messageId,
        generator: draft.generator,
        fallbackReason: draft.fallbackReason,
        subject: draft.message.subject,
        outboxPath: receipt.outboxPath,
      };
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
  }

  private skip(request: DeliveryRequest, reason: SkipReason): DeliveryOutcome {
    this.metrics.skipped(reason);
    this.logger.log(`Skipped customer ${request.customer.id}: ${reason}`);
    return { status: 'skipped', reason };
  }

  private fail(request: DeliveryRequest, messageId: string, reason: FailureReason, error: string): DeliveryOutcome {
    this.metrics.sent(request, 'failed');
    this.logger.warn(`Message ${messageId} to customer ${request.customer.id} failed: ${reason} (${error})`);
    return { status: 'failed', messageId, reason, error };
  }
}
