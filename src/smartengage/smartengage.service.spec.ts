import { Logger } from '@nestjs/common';
import { mock } from 'jest-mock-extended';
import { ErrorCode } from '../common/app.exception';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { AnsweredResult, DeliveryFanOut, FanOutItem } from '../delivery/delivery-fan-out';
import { Channel, GeneratorKind, MessageType } from '../messaging/message.types';
import { FailureReason, SkipReason } from '../messaging/reminder-delivery';
import { CustomerProfile } from '../segmentation/customer-profile';
import { CustomerRepository } from '../segmentation/customer.repository';
import { ServiceInfo, ServiceRepository } from '../segmentation/service.repository';
import { SendBulkRequestDto } from './dto/send-bulk.dto';
import { SendSingleRequestDto } from './dto/send-single.dto';
import { ExperimentsService } from '../experiments/experiments.service';
import { OfferService } from './offer.service';
import { SmartEngageService } from './smartengage.service';
import { unknownPromoCode } from './smartengage.exceptions';

const DAY_MS = 86_400_000;
const PLUMBING: ServiceInfo = { id: 'svc-plumbing', name: 'Plumbing', nameBn: 'প্লাম্বিং', emoji: '🔧' };
const CLEANING: ServiceInfo = { id: 'svc-cleaning', name: 'Cleaning', nameBn: 'ক্লিনিং', emoji: '🧹' };
const OFFER = { promoCode: 'FIX20', discountPercent: 20 };

const customer = (id: string, over: Partial<CustomerProfile> = {}): CustomerProfile => ({
  id,
  name: id,
  email: `${id}@example.com`,
  phone: null,
  lastBookingAt: new Date(Date.now() - 30 * DAY_MS),
  lastBookingServiceId: PLUMBING.id,
  totalBookings: 2,
  optedOutAt: null,
  ...over,
});
type Answer = AnsweredResult['outcome'];
const SENT: Answer = { status: 'sent', messageId: 'msg-1', generator: GeneratorKind.Template, fallbackReason: null, subject: 's' };

function newTestService() {
  const customers = mock<CustomerRepository>();
  const services = mock<ServiceRepository>();
  const known = new Map([PLUMBING, CLEANING].map((s) => [s.id, s]));
  services.findById.mockImplementation(async (id) => known.get(id) ?? null);
  services.findByIds.mockImplementation(async (ids) => new Map(ids.filter((id) => known.has(id)).map((id) => [id, known.get(id)!])));
  const offers = mock<OfferService>();
  offers.resolve.mockImplementation(async (code) => (code ? OFFER : null));
  const fanOut = mock<DeliveryFanOut>();
  fanOut.deliverAnswering.mockImplementation(answering({ c1: SENT }));
  const experiments = mock<ExperimentsService>();
  const config = new AppConfig(validateEnvironment({}));
  const sut = new SmartEngageService(customers, services, offers, fanOut, experiments, config);
  return { sut, mocks: { customers, services, offers, fanOut, experiments }, config };
}

const single = (over: Partial<SendSingleRequestDto> = {}): SendSingleRequestDto => ({
  customer_id: 'c1',
  message_type: MessageType.Reminder,
  ...over,
});
const bulk = (over: Partial<SendBulkRequestDto> = {}): SendBulkRequestDto => ({
  customer_ids: ['c1'],
  message_type: MessageType.Reminder,
  ...over,
});

/** The fan-out answers each customer with the outcome named for it (sent by default). */
const answering =
  (outcomes: Record<string, Answer>) =>
  async (items: readonly FanOutItem[]): Promise<AnsweredResult[]> =>
    items.map((item) => ({
      customerId: item.customerId,
      outcome: 'skip' in item ? { status: 'skipped', reason: item.skip } : (outcomes[item.customerId] ?? { ...SENT, messageId: `m-${item.customerId}` }),
    }));

describe(SmartEngageService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  describe('sendSingle', () => {
    it("sends for the service of the customer's last booking, with the configured link lifetime and the frequency cap on", async () => {
      const { sut, mocks, config } = newTestService();
      mocks.customers.findProfile.mockResolvedValue(customer('c1'));

      const answer = await sut.sendSingle(single());

      expect(mocks.fanOut.deliverAnswering).toHaveBeenCalledWith([{
        customerId: 'c1',
        request: expect.objectContaining({
          service: PLUMBING,
          offer: null,
          channel: Channel.Email,
          ttlHours: config.links.defaultTtlHours,
          bypassFrequencyCap: false,
        }),
      }], 1);
      expect(answer).toMatchObject({ success: true, message_id: 'msg-1', customer_id: 'c1', channel: Channel.Email, status: 'sent', message: 'Reminder sent successfully' });
      expect(answer).not.toHaveProperty('promo_code');
    });

    it('a service_id, promo code, channel and TTL in the request win over the defaults', async () => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfile.mockResolvedValue(customer('c1'));

      const answer = await sut.sendSingle(
        single({ service_id: CLEANING.id, promo_code: 'FIX20', channel: 'SMS', ttl_hours: 6, message_type: MessageType.Promotional }),
      );

      expect(mocks.fanOut.deliverAnswering.mock.calls[0][0][0]).toMatchObject({
        request: { service: CLEANING, offer: OFFER, channel: Channel.Sms, ttlHours: 6, messageType: MessageType.Promotional },
      });
      expect(answer).toMatchObject({ channel: Channel.Sms, promo_code: 'FIX20', message: 'Promotion with promo sent successfully' });
    });

    it.each([
      ['an unknown customer', null, {}, ErrorCode.CustomerNotFound],
      ['a customer with no booking and no service_id', customer('c1', { lastBookingServiceId: null }), {}, ErrorCode.NoServiceForCustomer],
      ['an unknown service_id', customer('c1'), { service_id: 'svc-gone' }, ErrorCode.ServiceNotFound],
    ])('refuses %s before anything is delivered', async (_case, profile, over, code) => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfile.mockResolvedValue(profile);

      await expect(sut.sendSingle(single(over))).rejects.toMatchObject({ code });
      expect(mocks.fanOut.deliverAnswering).not.toHaveBeenCalled();
    });

    it.each([
      [SkipReason.OptedOut, ErrorCode.CustomerOptedOut],
      [SkipReason.FrequencyCapped, ErrorCode.FrequencyCapped],
      [SkipReason.AlreadyMessagedToday, ErrorCode.FrequencyCapped],
      [SkipReason.NoEmailAddress, ErrorCode.NoEmailAddress],
      [SkipReason.InvalidEmailAddress, ErrorCode.InvalidEmailAddress],
      [SkipReason.NoPhoneNumber, ErrorCode.NoPhoneNumber],
      [SkipReason.InvalidPhoneNumber, ErrorCode.InvalidPhoneNumber],
      [SkipReason.SmsQuietHours, ErrorCode.SmsQuietHours],
      [SkipReason.ShuttingDown, ErrorCode.ShuttingDown],
    ])('a delivery skipped as %s answers %s', async (reason, code) => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfile.mockResolvedValue(customer('c1'));
      mocks.fanOut.deliverAnswering.mockImplementation(answering({ c1: { status: 'skipped', reason } }));

      await expect(sut.sendSingle(single())).rejects.toMatchObject({ code });
    });

    it.each([
      [FailureReason.SafetyRejected, ErrorCode.MessageRejected],
      [FailureReason.DeliveryFailed, ErrorCode.DeliveryFailed],
      [FailureReason.DeliveryUnknown, ErrorCode.DeliveryFailed],
    ])('a message that failed as %s answers %s, naming the message', async (reason, code) => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfile.mockResolvedValue(customer('c1'));
      mocks.fanOut.deliverAnswering.mockImplementation(answering({ c1: { status: 'failed', messageId: 'msg-9', reason, error: 'x' } }));

      await expect(sut.sendSingle(single())).rejects.toMatchObject({ code, message: `message msg-9 could not be sent: ${reason}` });
    });

    it('no worker reporting back within the wait is not an error: the answer says queued, with the message id its job has', async () => {
      const { sut, mocks, config } = newTestService();
      mocks.customers.findProfile.mockResolvedValue(customer('c1'));
      mocks.fanOut.deliverAnswering.mockImplementation(answering({ c1: { status: 'queued', messageId: 'msg-q' } }));

      const answer = await sut.sendSingle(single());

      expect(answer).toMatchObject({
        success: true,
        status: 'queued',
        message_id: 'msg-q',
        message: `Reminder queued: no worker reported back within ${config.queue.sendWaitMs / 1000} s; it is sent when one takes it`,
      });
    });

    it('a delivery that threw is an internal error, not a known code', async () => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfile.mockResolvedValue(customer('c1'));
      mocks.fanOut.deliverAnswering.mockImplementation(answering({ c1: { status: 'error', error: 'connection terminated' } }));

      const failure = sut.sendSingle(single());

      await expect(failure).rejects.toThrow('connection terminated');
      await expect(failure).rejects.not.toHaveProperty('code');
    });
  });

  describe('sendBulk', () => {
    it('skips unknown, not-yet-due and history-less customers, delivers the rest, and counts each kind', async () => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfiles.mockResolvedValue([
        customer('due'),
        customer('recent', { lastBookingAt: new Date(Date.now() - 2 * DAY_MS) }),
        customer('never', { lastBookingAt: null, lastBookingServiceId: null }),
        customer('nohistory', { lastBookingServiceId: null }),
        customer('fails'),
      ]);
      mocks.fanOut.deliverAnswering.mockImplementation(
        answering({ fails: { status: 'failed', messageId: 'm-f', reason: FailureReason.DeliveryFailed, error: 'SMTP 554' } }),
      );

      const answer = await sut.sendBulk(bulk({ customer_ids: ['due', 'gone', 'recent', 'never', 'nohistory', 'fails'], booking_cadence_days: 21 }));

      const [items, concurrency] = mocks.fanOut.deliverAnswering.mock.calls[0];
      expect(items.map((i) => ('skip' in i ? i.skip : 'deliver'))).toEqual([
        'deliver',
        SkipReason.CustomerNotFound,
        SkipReason.NotDue,
        SkipReason.NotDue,
        SkipReason.NoBookingHistory,
        'deliver',
      ]);
      expect(concurrency).toBe(10);
      // Eligible: found and due, whether or not a service is known.
      expect(answer).toMatchObject({ status: 'completed_with_errors', total_eligible: 3, sent: 1, failed: 1, skipped: 4 });
      expect(answer.results).toEqual([
        { customer_id: 'due', success: true, message_id: 'm-due' },
        { customer_id: 'gone', success: false, reason: SkipReason.CustomerNotFound },
        { customer_id: 'recent', success: false, reason: SkipReason.NotDue },
        { customer_id: 'never', success: false, reason: SkipReason.NotDue },
        { customer_id: 'nohistory', success: false, reason: SkipReason.NoBookingHistory },
        { customer_id: 'fails', success: false, message_id: 'm-f', reason: FailureReason.DeliveryFailed },
      ]);
    });

    it('without a cadence every found customer is due; a service_id serves those without history; batch_size sets the concurrency', async () => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfiles.mockResolvedValue([
        customer('recent', { lastBookingAt: new Date(Date.now() - DAY_MS) }),
        customer('nohistory', { lastBookingAt: null, lastBookingServiceId: null }),
      ]);
      mocks.fanOut.deliverAnswering.mockImplementation(answering({}));

      const answer = await sut.sendBulk(bulk({ customer_ids: ['recent', 'nohistory'], service_id: CLEANING.id, batch_size: 3, bypass_frequency_caps: true }));

      const [items, concurrency] = mocks.fanOut.deliverAnswering.mock.calls[0];
      expect(items).toEqual([
        { customerId: 'recent', request: expect.objectContaining({ service: CLEANING, bypassFrequencyCap: true }) },
        { customerId: 'nohistory', request: expect.objectContaining({ service: CLEANING, bypassFrequencyCap: true }) },
      ]);
      expect(concurrency).toBe(3);
      expect(answer).toMatchObject({ status: 'completed', total_eligible: 2, sent: 2, failed: 0, skipped: 0 });
    });

    it('customers still queued after the wait are counted queued, and make the whole answer queued', async () => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfiles.mockResolvedValue([customer('a'), customer('b'), customer('c')]);
      mocks.fanOut.deliverAnswering.mockImplementation(
        answering({ b: { status: 'queued', messageId: 'm-b' }, c: { status: 'failed', messageId: 'm-c', reason: FailureReason.DeliveryFailed, error: 'x' } }),
      );

      const answer = await sut.sendBulk(bulk({ customer_ids: ['a', 'b', 'c'] }));

      expect(answer).toMatchObject({ status: 'queued', sent: 1, failed: 1, skipped: 0, queued: 1 });
      expect(answer.results[1]).toEqual({ customer_id: 'b', success: false, message_id: 'm-b', reason: 'queued' });
    });

    it('a delivery that threw counts as failed (internal_error); the others still answer', async () => {
      const { sut, mocks } = newTestService();
      mocks.customers.findProfiles.mockResolvedValue([customer('a'), customer('b')]);
      mocks.fanOut.deliverAnswering.mockImplementation(answering({ a: { status: 'error', error: 'connection terminated' } }));

      const answer = await sut.sendBulk(bulk({ customer_ids: ['a', 'b'] }));

      expect(answer).toMatchObject({ status: 'completed_with_errors', sent: 1, failed: 1, skipped: 0 });
      expect(answer.results[0]).toEqual({ customer_id: 'a', success: false, reason: 'internal_error' });
    });

    it.each([
      ['an unknown service_id', { service_id: 'svc-gone' }, ErrorCode.ServiceNotFound],
      ['an inactive promo code', { promo_code: 'NOPE' }, ErrorCode.UnknownPromoCode],
    ])('refuses %s before anything is delivered', async (_case, over, code) => {
      const { sut, mocks } = newTestService();
      mocks.offers.resolve.mockImplementation(async (promo) => {
        if (promo) throw unknownPromoCode(promo);
        return null;
      });

      await expect(sut.sendBulk(bulk(over))).rejects.toMatchObject({ code });
      expect(mocks.fanOut.deliverAnswering).not.toHaveBeenCalled();
    });
  });
});
