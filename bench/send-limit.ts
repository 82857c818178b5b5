import { INestApplicationContext } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createTransport } from 'nodemailer';
import { DataSource } from 'typeorm';
import { AppConfig } from '../src/config/app-config';
import { displayName } from '../src/messaging/display-name';
import { DraftingService } from '../src/messaging/drafting.service';
import { DeepLinkService, TokenScope } from '../src/messaging/deep-link.service';
import { emailOptions, OutgoingEmail } from '../src/messaging/email.sender';
import { MessageType, toneFor } from '../src/messaging/message.types';
import { smtpTransport } from '../src/messaging/smtp-transport';
import { CustomerRepository } from '../src/segmentation/customer.repository';
import { ServiceRepository } from '../src/segmentation/service.repository';

const DAY_MS = 86_400_000;

export interface SendLimit {
  messages: number;
  seconds: number;
  perSecond: number;
  /** This process's CPU per message: steadier than the rate when other work shares the machine. */
  cpuMs: number;
  /** Size of the MIME message, for comparing with what the campaign sends. */
  bytes: number;
}

/**
 * The raw send limit of this machine: nodemailer with the service's transport options (smtpTransport, the
 * same SMTP_URL and pool size) and the service's mail options (emailOptions), `concurrency` sends in flight
 * like the campaign, into the same sink. The message is drafted once by the app for a real eligible customer;
 * no database is touched while sending.
 */
export async function measureSendLimit(
  app: INestApplicationContext,
  smtpUrl: string,
  options: { messages: number; concurrency: number },
): Promise<SendLimit> {
  const config = app.get(AppConfig);
  const email = await sampleEmail(app);
  const transport = createTransport(smtpTransport(smtpUrl, config.mail.smtpMaxConnections), { from: config.mail.from });
  try {
    const send = () => transport.sendMail(emailOptions({ ...email, messageId: randomUUID() }, config.mail.from));
    const first = await send();
    const bytes = (first as { messageSize?: number }).messageSize ?? 0;

    let next = 1;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const worker = async () => {
      while (next < options.messages) {
        next++;
        await send();
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const messages = options.messages - 1;
    return { messages, seconds, perSecond: messages / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / messages, bytes };
  } finally {
    transport.close();
  }
}

/** The email the campaign would send to one eligible customer, as the in-process delivery drafts it. */
async function sampleEmail(app: INestApplicationContext): Promise<OutgoingEmail> {
  const config = app.get(AppConfig);
  const links = app.get(DeepLinkService);
  const [{ id }] = await app
    .get(DataSource)
    .query(`SELECT id FROM customers WHERE has_email AND opted_out_at IS NULL AND last_booking_at IS NOT NULL LIMIT 1`);
  const customer = (await app.get(CustomerRepository).findProfile(id))!;
  const service = (await app.get(ServiceRepository).findById(customer.lastBookingServiceId!))!;
  const messageId = randomUUID();
  const ttlHours = config.links.defaultTtlHours;
  const link = links.bookingLink({ sub: customer.id, message_id: messageId, service_id: service.id, promo_code: null, scope: TokenScope.Booking }, ttlHours);
  const unsubscribeUrl = links.unsubscribeUrl({ sub: customer.id, message_id: messageId });
  const draft = await app.get(DraftingService).draft({
    customerName: displayName(customer.name),
    serviceNameBn: service.nameBn,
    serviceEmoji: service.emoji,
    daysSinceLastBooking: Math.floor((Date.now() - customer.lastBookingAt!.getTime()) / DAY_MS),
    tone: toneFor(customer.totalBookings),
    messageType: MessageType.Reminder,
    offer: null,
    ttlHours,
    bookingUrl: link.url,
    shortBookingUrl: config.links.bookingBaseUrl,
    unsubscribeUrl,
  });
  const { subject, text, html } = draft.message;
  return { messageId, to: customer.email!, subject, text, html, unsubscribeUrl };
}

/** Two measurements as one: all their messages over all their time. */
export function combineLimits(a: SendLimit, b: SendLimit): SendLimit {
  const messages = a.messages + b.messages;
  const seconds = a.seconds + b.seconds;
  const cpuMs = (a.cpuMs * a.messages + b.cpuMs * b.messages) / messages;
  return { messages, seconds, perSecond: messages / seconds, cpuMs, bytes: a.bytes };
}
