import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { AiMessageEntity } from './ai-message.entity';
import { AiMessageRepository, INTERRUPTED_WHILE_SENDING } from './ai-message.repository';
import { DeepLinkService } from './deep-link.service';
import { Draft, DraftingService } from './drafting.service';
import { ReminderDeliveryStep } from './reminder-delivery-step';
import { DispatchResult, MessageDispatcher } from './message-dispatcher';
import { DeliveryStatus } from './delivery-status';
import { Channel, GeneratorKind, MessageType } from './message.types';
import { MessagingMetrics } from './messaging.metrics';
import { PreparedDrafts } from './prepared-drafts.service';
import { DeliveryRequest, FailureReason } from './reminder-delivery';

const MESSAGE_ID = '0b5e7c5a-8f1e-4d0c-9a4b-2c7d3e1f6a10';
const REQUEST: DeliveryRequest = {
  customer: {
    id: '229211b0-9cf4-4e36-b707-d593034bfb0f',
    name: 'Kamal Navid',
    email: 'kamal@example.com',
    phone: '+8801711005688',
    lastBookingAt: new Date(Date.now() - 22 * 86_400_000),
    lastBookingServiceId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
    totalBookings: 2,
    optedOutAt: null,
  },
  service: { id: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', name: 'Plumbing', nameBn: 'প্লাম্বিং', emoji: '🔧' },
  offer: null,
  messageType: MessageType.Reminder,
  channel: Channel.Email,
  ttlHours: 48,
  bypassFrequencyCap: false,
  correlationId: 'c-1',
  messageId: MESSAGE_ID,
};
const DRAFT: Draft = {
  message: { subject: 'বিষয়', text: 'বার্তা', html: '<p>বার্তা</p>' },
  prose: { subject: 'বিষয়', body: 'বার্তা' },
  generator: GeneratorKind.Template,
  fallbackReason: null,
  violations: null,
  generationSeconds: 0.001,
};

/** The row a redelivered request finds. */
const row = (status: DeliveryStatus, channel = Channel.Email): AiMessageEntity =>
  ({
    id: MESSAGE_ID,
    channel,
    recipient: channel === Channel.Sms ? '+8801711005688' : 'kamal@example.com',
    deliveryStatus: status,
    subject: 'বিষয়',
    messageText: 'বার্তা',
    generator: GeneratorKind.Template,
    fallbackReason: null,
    safetyViolations: null,
    smsSegments: channel === Channel.Sms ? 1 : null,
    attempts: 1,
    lastError: null,
  }) as AiMessageEntity;

function newTestDelivery() {
  const messages = mock<AiMessageRepository>();
  messages.claim.mockResolvedValue('claimed');
  messages.touchSending.mockResolvedValue(2);
  messages.recordAttempt.mockResolvedValue(undefined);
  messages.markFailed.mockResolvedValue(undefined);
  messages.settleInterrupted.mockResolvedValue({ released: [], unknown: [Channel.Email] });
  const drafting = mock<DraftingService>();
  drafting.draft.mockResolvedValue(DRAFT);
  const links = mock<DeepLinkService>();
  links.bookingLink.mockReturnValue({ url: 'https://book/x', token: 't', expiresAt: new Date() });
  links.unsubscribeUrl.mockReturnValue('https://x/unsubscribe/t');
  links.clickUrl.mockReturnValue('https://x/r/c');
  links.openPixelUrl.mockReturnValue('https://x/o/c.gif');
  const dispatcher = mock<MessageDispatcher>();
  dispatcher.dispatch.mockResolvedValue({ status: 'sent', providerMessageId: '<p@x>' } satisfies DispatchResult);
  const metrics = mock<MessagingMetrics>();
  // Never within the SMS quiet hours, whatever time the spec runs.
  const config = new AppConfig(validateEnvironment({ SMS_QUIET_HOURS_START: '0', SMS_QUIET_HOURS_END: '0' }));
  const prepared = mock<PreparedDrafts>();
  prepared.find.mockResolvedValue(null);
  prepared.use.mockResolvedValue(null);
  const sut = new ReminderDeliveryStep(messages, drafting, links, dispatcher, metrics, config, prepared);
  return { sut, mocks: { messages, drafting, dispatcher, metrics, prepared } };
}

describe(ReminderDeliveryStep.name, () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('sends a prepared draft for the same facts without drafting, and stores it on the message with the sending mark', async () => {
    const { sut, mocks } = newTestDelivery();
    const prepared: Draft = { ...DRAFT, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', promptVersion: 'abc', generationSeconds: 0 };
    const key = { customerId: REQUEST.customer.id, channel: Channel.Email, factsHash: 'f'.repeat(64) };
    mocks.prepared.use.mockResolvedValue({ draft: prepared, key });

    expect(await sut.deliver(REQUEST)).toMatchObject({ status: 'sent', generator: GeneratorKind.OpenAi });

    // Looked up while the message was claimed, then checked against this message's facts.
    expect(mocks.prepared.find).toHaveBeenCalledWith(REQUEST.customer.id, Channel.Email);
    expect(mocks.prepared.find.mock.invocationCallOrder[0]).toBeLessThan(mocks.messages.claim.mock.invocationCallOrder[0]);
    expect(mocks.prepared.use).toHaveBeenCalledWith(
      { customerId: REQUEST.customer.id, channel: Channel.Email, serviceId: REQUEST.service.id, tone: 'friendly', messageType: MessageType.Reminder },
      expect.objectContaining({ daysSinceLastBooking: 22, serviceNameBn: 'প্লাম্বিং' }),
      expect.any(Promise),
    );
    expect(mocks.drafting.draft).not.toHaveBeenCalled();
    // No statement of its own: the prepared draft stays in prepared_drafts until the mark stores it on the row.
    expect(mocks.messages.storeDraft).not.toHaveBeenCalled();
    expect(mocks.dispatcher.dispatch).toHaveBeenCalledWith(
      expect.objectContaining({
        draft: expect.objectContaining({ stored: expect.objectContaining({ generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini' }), prepared: key }),
      }),
    );
  });

  it('drafts as usual when no prepared draft matches, and never looks one up for a template-only send', async () => {
    const { sut, mocks } = newTestDelivery();

    await sut.deliver(REQUEST);
    expect(mocks.drafting.draft).toHaveBeenCalledTimes(1);

    await sut.deliver({ ...REQUEST, generator: GeneratorKind.Template });
    expect(mocks.prepared.find).toHaveBeenCalledTimes(1);
    expect(mocks.prepared.use).toHaveBeenCalledTimes(1);
  });

  it('claims, drafts and hands the message to the dispatcher with the given message id', async () => {
    const { sut, mocks } = newTestDelivery();

    expect(await sut.deliver(REQUEST)).toMatchObject({ status: 'sent', messageId: MESSAGE_ID, subject: 'বিষয়' });

    expect(mocks.messages.claim).toHaveBeenCalledWith(expect.objectContaining({ id: MESSAGE_ID }));
    expect(mocks.dispatcher.dispatch).toHaveBeenCalledWith(
      expect.objectContaining({ messageId: MESSAGE_ID, attempts: 0, draft: expect.objectContaining({ messageText: 'বার্তা' }) }),
    );
  });

  describe('delivering again a message whose row exists (a redelivered job)', () => {
    it('continues a queued row: drafts and sends it', async () => {
      const { sut, mocks } = newTestDelivery();
      mocks.messages.claim.mockResolvedValue('exists');
      mocks.messages.findById.mockResolvedValue(row(DeliveryStatus.Queued));

      expect(await sut.deliver(REQUEST)).toMatchObject({ status: 'sent', messageId: MESSAGE_ID });
      expect(mocks.drafting.draft).toHaveBeenCalledTimes(1);
      expect(mocks.dispatcher.dispatch).toHaveBeenCalledTimes(1);
    });

    it('passes the draft a queued row stored to the drafting (a retried or redelivered message is not written again)', async () => {
      const { sut, mocks } = newTestDelivery();
      mocks.messages.claim.mockResolvedValue('exists');
      mocks.messages.findById.mockResolvedValue({
        ...row(DeliveryStatus.Queued),
        proseSubject: 'আগের বিষয়',
        proseBody: 'আগের লেখা',
        generator: GeneratorKind.OpenAi,
        llmModel: 'gpt-4o-mini',
        promptVersion: 'abc123',
        promptTokens: 100,
        cachedTokens: 20,
        completionTokens: 80,
      } as AiMessageEntity);

      expect(await sut.deliver(REQUEST)).toMatchObject({ status: 'sent' });
      expect(mocks.drafting.draft).toHaveBeenCalledWith(expect.anything(), expect.objectContaining({
        stored: expect.objectContaining({
          prose: { subject: 'আগের বিষয়', body: 'আগের লেখা' },
          generator: GeneratorKind.OpenAi,
          model: 'gpt-4o-mini',
          usage: { input: 100, cachedInput: 20, output: 80 },
        }),
      }));
      // Counted when it was first written, not again.
      expect(mocks.metrics.generated).not.toHaveBeenCalled();
    });

    it.each([DeliveryStatus.Sent, DeliveryStatus.Clicked])('answers sent for a %s row without sending again', async (status) => {
      const { sut, mocks } = newTestDelivery();
      mocks.messages.claim.mockResolvedValue('exists');
      mocks.messages.findById.mockResolvedValue(row(status));

      expect(await sut.deliver(REQUEST)).toMatchObject({ status: 'sent', messageId: MESSAGE_ID, subject: 'বিষয়' });
      expect(mocks.drafting.draft).not.toHaveBeenCalled();
      expect(mocks.dispatcher.dispatch).not.toHaveBeenCalled();
    });

    it('makes an email that was sending unknown, and does not send it again', async () => {
      const { sut, mocks } = newTestDelivery();
      mocks.messages.claim.mockResolvedValue('exists');
      mocks.messages.findById
        .mockResolvedValueOnce(row(DeliveryStatus.Sending))
        .mockResolvedValueOnce({ ...row(DeliveryStatus.Unknown), lastError: INTERRUPTED_WHILE_SENDING } as AiMessageEntity);

      expect(await sut.deliver(REQUEST)).toMatchObject({ status: 'failed', reason: FailureReason.DeliveryUnknown });
      expect(mocks.messages.recordAttempt).toHaveBeenCalledWith(MESSAGE_ID, { status: DeliveryStatus.Unknown, error: INTERRUPTED_WHILE_SENDING });
      expect(mocks.dispatcher.dispatch).not.toHaveBeenCalled();
    });

    it('hands an SMS that was sending to the gateway again, counting the attempt', async () => {
      const { sut, mocks } = newTestDelivery();
      mocks.messages.claim.mockResolvedValue('exists');
      mocks.messages.findById.mockResolvedValue(row(DeliveryStatus.Sending, Channel.Sms));

      expect(await sut.deliver({ ...REQUEST, channel: Channel.Sms })).toMatchObject({ status: 'sent', messageId: MESSAGE_ID });
      expect(mocks.messages.touchSending).toHaveBeenCalledWith(MESSAGE_ID);
      expect(mocks.dispatcher.dispatch).toHaveBeenCalledWith(
        expect.objectContaining({ messageId: MESSAGE_ID, channel: Channel.Sms, attempts: 2, resumed: true }),
      );
    });

    it('answers failed for a failed row, with its last error', async () => {
      const { sut, mocks } = newTestDelivery();
      mocks.messages.claim.mockResolvedValue('exists');
      mocks.messages.findById.mockResolvedValue({ ...row(DeliveryStatus.Failed), lastError: '550 no such user' } as AiMessageEntity);

      expect(await sut.deliver(REQUEST)).toEqual({
        status: 'failed',
        messageId: MESSAGE_ID,
        reason: FailureReason.DeliveryFailed,
        error: '550 no such user',
      });
      expect(mocks.dispatcher.dispatch).not.toHaveBeenCalled();
    });
  });

  it('settles the messages still in flight at shutdown, and only those', async () => {
    const { sut, mocks } = newTestDelivery();
    let finish!: (result: DispatchResult) => void;
    mocks.dispatcher.dispatch.mockReturnValueOnce(new Promise((resolve) => (finish = resolve)));
    const inFlight = sut.deliver(REQUEST);
    await new Promise((resolve) => setImmediate(resolve));

    expect(await sut.settleInFlight()).toBe(1);
    expect(mocks.messages.settleInterrupted).toHaveBeenCalledWith({ ids: [MESSAGE_ID] }, [Channel.Email, Channel.Sms]);

    finish({ status: 'unknown', error: 'interrupted' });
    await inFlight;
    mocks.messages.settleInterrupted.mockClear();
    expect(await sut.settleInFlight()).toBe(0);
    expect(mocks.messages.settleInterrupted).not.toHaveBeenCalled();
  });
});
