import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AiMessageEntity } from '../messaging/ai-message.entity';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { DeepLinkService, TokenScope } from '../messaging/deep-link.service';
import { Channel } from '../messaging/message.types';
import { OpenRecordingBudget } from '../rate-limit/open-recording.budget';
import { messageNotFound } from './events.exceptions';
import { EventsService } from './events.service';
import { isMachineOpen } from './machine-open';
import { EventSource, EventType } from './message-event.entity';

/** The public tracking links in messages: the click redirect and the open pixel. */
@Injectable()
export class TrackingService {
  private readonly logger = new Logger(TrackingService.name);

  constructor(
    private readonly messages: AiMessageRepository,
    private readonly events: EventsService,
    private readonly links: DeepLinkService,
    private readonly config: AppConfig,
    private readonly openBudget: OpenRecordingBudget,
  ) {}

  /** Records the click and returns where to send the customer: a click-scoped booking link until the message's link expires. */
  async click(code: string): Promise<string> {
    const message = await this.findById(this.links.messageIdOfClickCode(code));
    if (!message) throw messageNotFound();
    // A click that cannot be recorded must not cost the booking: log it and redirect anyway.
    await this.events
      .record(message, EventType.MessageClicked, sourceOf(message.channel), new Date())
      .catch((error: unknown) =>
        this.logger.warn({ msg: `Click not recorded: ${String(error)}`, messageId: message.id }),
      );
    return this.bookingUrl(message);
  }

  /**
   * Records an open, a `machine_open` when a mail proxy prefetched it; past the IP's budget, an unknown code or
   * a failure records nothing and says nothing (the pixel is always served).
   */
  async open(code: string, client: { ip: string; userAgent?: string }): Promise<void> {
    try {
      if (!(await this.openBudget.take(client.ip))) return;
      const message = await this.findById(this.links.messageIdOfOpenCode(code));
      if (!message) return;
      const now = new Date();
      const machine = isMachineOpen(client.userAgent, message.sentAt ?? message.createdAt, now);
      await this.events.record(message, machine ? EventType.MachineOpen : EventType.MessageOpened, EventSource.Email, now);
    } catch (error) {
      this.logger.warn({ msg: `Open not recorded: ${String(error)}`, messageCode: code });
    }
  }

  private findById(id: string | null): Promise<AiMessageEntity | null> {
    return id ? this.messages.findById(id) : Promise.resolve(null);
  }

  private bookingUrl(message: AiMessageEntity): string {
    const expiresAt = message.linkExpiresAt;
    if (expiresAt && expiresAt.getTime() > Date.now() + 1000 && message.serviceId) {
      const claims = {
        sub: message.userId,
        message_id: message.id,
        service_id: message.serviceId,
        promo_code: message.promoCode,
        // Whoever follows a link gets this token: it records engagement, it does not opt out or book.
        scope: TokenScope.Click,
      };
      return this.links.bookingLinkUntil(claims, expiresAt).url;
    }
    // The offer has lapsed: the customer can still book, without the message's token.
    const url = new URL(this.config.links.bookingBaseUrl);
    if (message.promoCode) url.searchParams.set('promo', message.promoCode);
    return url.toString();
  }
}

function sourceOf(channel: Channel): EventSource {
  return channel === Channel.Sms ? EventSource.Sms : EventSource.Email;
}
