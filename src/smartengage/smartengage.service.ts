import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DAY_MS } from '../common/local-time';
import { RequestContext } from '../common/request-context';
import { Channel, MessageType } from '../messaging/message.types';
import { AnsweredResult, answeredResult, DeliveryFanOut, FanOutItem, ResultCount } from '../delivery/delivery-fan-out';
import { SkipReason } from '../messaging/reminder-delivery';
import { CustomerProfile } from '../segmentation/customer-profile';
import { CustomerRepository } from '../segmentation/customer.repository';
import { ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { CustomerResultDto, SendBulkRequestDto, SendBulkResponseDto } from './dto/send-bulk.dto';
import { SendSingleRequestDto, SendSingleResponseDto } from './dto/send-single.dto';
import { OfferService } from './offer.service';
import { customerNotFound, customerSkipped, messageNotSent, noServiceForCustomer, serviceNotFound } from './smartengage.exceptions';

const DEFAULT_BATCH_SIZE = 10;

/** The admin use cases: one reminder, or a reminder to each of a list of customers. */
@Injectable()
export class SmartEngageService {
  private readonly logger = new Logger(SmartEngageService.name);

  constructor(
    private readonly customers: CustomerRepository,
    private readonly services: ServiceRepository,
    private readonly offers: OfferService,
    private readonly fanOut: DeliveryFanOut,
    private readonly config: AppConfig,
  ) {}

  async sendSingle(request: SendSingleRequestDto): Promise<SendSingleResponseDto> {
    const correlationId = RequestContext.ensureCorrelationId();
    const customer = await this.customers.findProfile(request.customer_id);
    if (!customer) throw customerNotFound(request.customer_id);
    const service = await this.resolveService(request.service_id ?? customer.lastBookingServiceId, customer.id);
    const offer = await this.offers.resolve(request.promo_code);

    const channel = toChannel(request.channel);
    const [{ outcome }] = await this.fanOut.deliverAnswering(
      [
        {
          customerId: customer.id,
          request: {
            customer,
            service,
            offer,
            messageType: request.message_type,
            channel,
            ttlHours: request.ttl_hours ?? this.config.links.defaultTtlHours,
            bypassFrequencyCap: false,
            correlationId,
          },
        },
      ],
      1,
    );
    if (outcome.status === 'error') throw new Error(outcome.error);
    const answer = (messageId: string) => ({
      success: true,
      message_id: messageId,
      customer_id: customer.id,
      correlation_id: correlationId,
      channel,
      ...(offer ? { promo_code: offer.promoCode } : {}),
    });
    if (outcome.status === 'queued') {
      this.logger.warn({ msg: `No worker reported back within the wait: ${request.message_type} left queued`, messageId: outcome.messageId });
      const waited = this.config.queue.sendWaitMs / 1000;
      const message = `${describe(request.message_type)} queued: no worker reported back within ${waited} s; it is sent when one takes it`;
      return { ...answer(outcome.messageId), status: 'queued', message };
    }
    if (outcome.status === 'skipped') throw customerSkipped(customer.id, outcome.reason);
    if (outcome.status === 'failed') throw messageNotSent(outcome.messageId, outcome.reason);
    this.logger.log({ msg: `Sent ${request.message_type}`, messageId: outcome.messageId, customerId: customer.id });
    return { ...answer(outcome.messageId), status: 'sent', message: `${describe(request.message_type)}${offer ? ' with promo' : ''} sent successfully` };
  }

  async sendBulk(request: SendBulkRequestDto): Promise<SendBulkResponseDto> {
    const started = Date.now();
    const correlationId = RequestContext.ensureCorrelationId();
    const fixedService = request.service_id ? await this.resolveService(request.service_id) : null;
    const offer = await this.offers.resolve(request.promo_code);
    const profiles = new Map((await this.customers.findProfiles(request.customer_ids)).map((c) => [c.id, c]));
    const services = await this.services.findByIds(
      [...profiles.values()].map((c) => c.lastBookingServiceId).filter((id): id is string => id !== null),
    );

    const due = (customer: CustomerProfile) =>
      !request.booking_cadence_days ||
      (customer.lastBookingAt !== null &&
        Date.now() - customer.lastBookingAt.getTime() >= request.booking_cadence_days * DAY_MS);
    const eligible = request.customer_ids.filter((id) => profiles.has(id) && due(profiles.get(id)!));

    const channel = toChannel(request.channel);
    const items = request.customer_ids.map((customerId): FanOutItem => {
      const customer = profiles.get(customerId);
      if (!customer) return { customerId, skip: SkipReason.CustomerNotFound };
      if (!due(customer)) return { customerId, skip: SkipReason.NotDue };
      const service = fixedService ?? (customer.lastBookingServiceId ? services.get(customer.lastBookingServiceId) : null);
      if (!service) return { customerId, skip: SkipReason.NoBookingHistory };
      const ttlHours = request.ttl_hours ?? this.config.links.defaultTtlHours;
      const bypassFrequencyCap = request.bypass_frequency_caps ?? false;
      return {
        customerId,
        request: { customer, service, offer, messageType: request.message_type, channel, ttlHours, bypassFrequencyCap, correlationId },
      };
    });
    const concurrency = request.batch_size ?? DEFAULT_BATCH_SIZE;
    const outcomes = (await this.fanOut.deliverAnswering(items, concurrency)).map(toBulkResult);

    const count = (kind: ResultCount | 'queued') => outcomes.filter((o) => o.count === kind).length;
    const [sent, failed, skipped, queued] = [count('sent'), count('failed'), count('skipped'), count('queued')];
    const results = outcomes.map((o) => o.result);
    this.logger.log({
      msg: `Bulk ${request.message_type}: ${sent} sent, ${failed} failed, ${skipped} skipped, ${queued} still queued`,
      sent,
      failed,
      skipped,
      queued,
    });
    return {
      status: queued > 0 ? 'queued' : failed > 0 ? 'completed_with_errors' : 'completed',
      total_eligible: eligible.length,
      sent,
      failed,
      skipped,
      queued,
      results,
      duration_seconds: Math.round(Date.now() - started) / 1000,
      correlation_id: correlationId,
    };
  }

  private async resolveService(serviceId: string | null | undefined, customerId?: string): Promise<ServiceInfo> {
    if (!serviceId) throw noServiceForCustomer(customerId);
    const service = await this.services.findById(serviceId);
    if (!service) throw serviceNotFound(serviceId);
    return service;
  }
}

function describe(type: MessageType): string {
  return { [MessageType.Reminder]: 'Reminder', [MessageType.Promotional]: 'Promotion', [MessageType.Winback]: 'Win-back message' }[type];
}

const toChannel = (channel: 'EMAIL' | 'SMS' | undefined): Channel => (channel === 'SMS' ? Channel.Sms : Channel.Email);

/** send-bulk's line for a customer, from the one reading of an outcome (answeredResult). */
function toBulkResult(answered: AnsweredResult): { count: ResultCount | 'queued'; result: CustomerResultDto } {
  const { count, result } = answeredResult(answered);
  return {
    count,
    result: {
      customer_id: result.customerId,
      success: result.success,
      ...(result.messageId ? { message_id: result.messageId } : {}),
      ...(result.reason ? { reason: result.reason } : {}),
    },
  };
}
