import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AppException, ErrorCode } from '../common/app.exception';
import { RequestContext } from '../common/request-context';
import { Offer } from '../messaging/message-content';
import { Channel, MessageType } from '../messaging/message.types';
import { AnsweredResult, DeliveryFanOut, FanOutItem } from '../delivery/delivery-fan-out';
import { SkipReason } from '../messaging/reminder-delivery';
import { CustomerProfile } from '../segmentation/customer-profile';
import { CustomerRepository } from '../segmentation/customer.repository';
import { ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { CustomerResultDto, SendBulkRequestDto, SendBulkResponseDto } from './dto/send-bulk.dto';
import { SendSingleRequestDto, SendSingleResponseDto } from './dto/send-single.dto';
import { PromoCodeRepository } from './promo-code.repository';

const DAY_MS = 86_400_000;
const DEFAULT_BATCH_SIZE = 10;

const SKIP_ERRORS: Record<SkipReason, { code: ErrorCode; status: HttpStatus; message: (id: string) => string }> = {
  [SkipReason.OptedOut]: {
    code: ErrorCode.CustomerOptedOut,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} has opted out of messages`,
  },
  [SkipReason.FrequencyCapped]: {
    code: ErrorCode.FrequencyCapped,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} has reached the frequency cap; try again later`,
  },
  [SkipReason.CustomerNotFound]: {
    code: ErrorCode.CustomerNotFound,
    status: HttpStatus.NOT_FOUND,
    message: (id) => `customer ${id} does not exist`,
  },
  [SkipReason.NoEmailAddress]: {
    code: ErrorCode.NoEmailAddress,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} has no email address`,
  },
  [SkipReason.NoPhoneNumber]: {
    code: ErrorCode.NoPhoneNumber,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} has no phone number`,
  },
  [SkipReason.InvalidEmailAddress]: {
    code: ErrorCode.InvalidEmailAddress,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} has an email address that is not exactly one valid address; nothing was sent`,
  },
  [SkipReason.InvalidPhoneNumber]: {
    code: ErrorCode.InvalidPhoneNumber,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} has a phone number that is not one E.164 number (+ and 7-15 digits); nothing was sent`,
  },
  [SkipReason.SmsQuietHours]: {
    code: ErrorCode.SmsQuietHours,
    status: HttpStatus.CONFLICT,
    message: () => 'no promotional SMS are sent during the quiet hours (00:00-08:00 local by default); try later',
  },
  [SkipReason.NoBookingHistory]: {
    code: ErrorCode.NoServiceForCustomer,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} has no bookings to remind them of`,
  },
  [SkipReason.AlreadyMessagedToday]: {
    code: ErrorCode.FrequencyCapped,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} was already messaged by today's campaign`,
  },
  [SkipReason.NotDue]: {
    code: ErrorCode.FrequencyCapped,
    status: HttpStatus.CONFLICT,
    message: (id) => `customer ${id} booked too recently`,
  },
  [SkipReason.ShuttingDown]: {
    code: ErrorCode.ShuttingDown,
    status: HttpStatus.SERVICE_UNAVAILABLE,
    message: (id) => `the service is shutting down; nothing was sent to customer ${id}, try again`,
  },
};

/** The admin use cases: one reminder, or a reminder to each of a list of customers. */
@Injectable()
export class SmartEngageService {
  private readonly logger = new Logger(SmartEngageService.name);

  constructor(
    private readonly customers: CustomerRepository,
    private readonly services: ServiceRepository,
    private readonly promos: PromoCodeRepository,
    private readonly fanOut: DeliveryFanOut,
    private readonly config: AppConfig,
  ) {}

  async sendSingle(request: SendSingleRequestDto): Promise<SendSingleResponseDto> {
    const correlationId = RequestContext.ensureCorrelationId();
    const customer = await this.customers.findProfile(request.customer_id);
    if (!customer) throw AppException.notFound(ErrorCode.CustomerNotFound, `customer ${request.customer_id} does not exist`);
    const service = await this.resolveService(request.service_id ?? customer.lastBookingServiceId, customer.id);
    const offer = await this.resolveOffer(request.promo_code);

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
    if (outcome.status === 'skipped') {
      const error = SKIP_ERRORS[outcome.reason];
      throw new AppException(error.code, error.message(customer.id), error.status);
    }
    if (outcome.status === 'failed') {
      throw new AppException(
        outcome.reason === 'safety_rejected' ? ErrorCode.MessageRejected : ErrorCode.DeliveryFailed,
        `message ${outcome.messageId} could not be sent: ${outcome.reason}`,
        outcome.reason === 'safety_rejected' ? HttpStatus.UNPROCESSABLE_ENTITY : HttpStatus.BAD_GATEWAY,
      );
    }
    this.logger.log({ msg: `Sent ${request.message_type}`, messageId: outcome.messageId, customerId: customer.id });
    return { ...answer(outcome.messageId), status: 'sent', message: `${describe(request.message_type)}${offer ? ' with promo' : ''} sent successfully` };
  }

  async sendBulk(request: SendBulkRequestDto): Promise<SendBulkResponseDto> {
    const started = Date.now();
    const correlationId = RequestContext.ensureCorrelationId();
    const fixedService = request.service_id ? await this.resolveService(request.service_id) : null;
    const offer = await this.resolveOffer(request.promo_code);
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

    const count = (kind: BulkOutcome['kind']) => outcomes.filter((o) => o.kind === kind).length;
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
    if (!serviceId) {
      throw AppException.conflict(
        ErrorCode.NoServiceForCustomer,
        `customer ${customerId} has no bookings; pass service_id to say which service to remind them of`,
      );
    }
    const service = await this.services.findById(serviceId);
    if (!service) throw AppException.notFound(ErrorCode.ServiceNotFound, `service ${serviceId} does not exist`);
    return service;
  }

  private async resolveOffer(promoCode: string | null | undefined): Promise<Offer | null> {
    if (!promoCode) return null;
    const offer = await this.promos.findActiveOffer(promoCode);
    if (!offer) {
      throw AppException.badRequest(ErrorCode.UnknownPromoCode, `promo_code ${promoCode} is not an active promo code`, [
        { field: 'promo_code', message: `${promoCode} is not an active promo code` },
      ]);
    }
    return offer;
  }
}

function describe(type: MessageType): string {
  return { [MessageType.Reminder]: 'Reminder', [MessageType.Promotional]: 'Promotion', [MessageType.Winback]: 'Win-back message' }[type];
}

const toChannel = (channel: 'EMAIL' | 'SMS' | undefined): Channel => (channel === 'SMS' ? Channel.Sms : Channel.Email);

interface BulkOutcome {
  kind: 'sent' | 'failed' | 'skipped' | 'queued';
  result: CustomerResultDto;
}

function toBulkResult({ customerId, outcome }: AnsweredResult): BulkOutcome {
  switch (outcome.status) {
    case 'queued':
      return { kind: 'queued', result: { customer_id: customerId, success: false, message_id: outcome.messageId, reason: 'queued' } };
    case 'error':
      return { kind: 'failed', result: { customer_id: customerId, success: false, reason: 'internal_error' } };
    case 'sent':
      return { kind: 'sent', result: { customer_id: customerId, success: true, message_id: outcome.messageId } };
    case 'failed':
      return {
        kind: 'failed',
        result: { customer_id: customerId, success: false, message_id: outcome.messageId, reason: outcome.reason },
      };
    case 'skipped':
      return { kind: 'skipped', result: { customer_id: customerId, success: false, reason: outcome.reason } };
  }
}
