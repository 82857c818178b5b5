import { mock, MockProxy } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { AiMessageRepository, AttemptRecord, DraftRecord, INTERRUPTED_BEFORE_SENDING } from './ai-message.repository';
import { EmailSender } from './email.sender';
import { Dispatch, MessageDispatcher } from './message-dispatcher';
import { DeliveryStatus } from './delivery-status';
import { Channel, GeneratorKind } from './message.types';
import { MessagingMetrics } from './messaging.metrics';
import { SmsDeliveryError, SmsSender } from './sms.sender';

const DRAFT: DraftRecord = {
  subject: 'বিষয়',
  messageText: 'বার্তা',
  generator: GeneratorKind.Template,
  fallbackReason: null,
  safetyViolations: null,
  smsSegments: null,
};
const EMAIL: Dispatch = {
  messageId: 'm-1',
  channel: Channel.Email,
  recipient: 'a@example.com',
  draft: DRAFT,
  email: { html: '<p>বার্তা</p>', unsubscribeUrl: 'https://x/u' },
  attempts: 0,
};
const SMS: Dispatch = { messageId: 'm-2', channel: Channel.Sms, recipient: '+8801712345678', draft: DRAFT, attempts: 0 };

const smtpReply = (responseCode: number) => Object.assign(new Error(`${responseCode} reply`), { code: 'EENVELOPE', responseCode });

function newTestDispatcher(env: Record<string, string> = {}) {
  const messages = mock<AiMessageRepository>();
  messages.markSending.mockResolvedValue(true);
  messages.recordAttempt.mockResolvedValue(undefined);
  messages.settleInterrupted.mockResolvedValue({ released: [Channel.Email], unknown: [] });
  const email = mock<EmailSender>();
  const sms = mock<SmsSender>();
  const metrics = mock<MessagingMetrics>();
  const config = new AppConfig(validateEnvironment({ DELIVERY_MAX_ATTEMPTS: '3', DELIVERY_RETRY_BACKOFF_MS: '1', ...env }));
  return { sut: new MessageDispatcher(messages, email, sms, metrics, config), mocks: { messages, email, sms, metrics } };
}

/** The status each recordAttempt call wrote, in order. */
const recorded = (messages: MockProxy<AiMessageRepository>) =>
  messages.recordAttempt.mock.calls.map(([, record]: [string, AttemptRecord]) => record.status);

describe(MessageDispatcher.name, () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('marks the row sending with its draft before the send, then records it sent', async () => {
    const { sut, mocks } = newTestDispatcher();
    const order: string[] = [];
    mocks.messages.markSending.mockImplementation(async () => (order.push('mark'), true));
    mocks.email.send.mockImplementation(async () => (order.push('send'), { providerMessageId: '<m-1@x>' }));

    expect(await sut.dispatch(EMAIL)).toEqual({ status: 'sent', providerMessageId: '<m-1@x>' });

    expect(order).toEqual(['mark', 'send']);
    expect(mocks.messages.markSending).toHaveBeenCalledWith('m-1', DRAFT);
    expect(mocks.messages.recordAttempt).toHaveBeenCalledWith('m-1', { status: DeliveryStatus.Sent, providerMessageId: '<m-1@x>' });
    expect(mocks.metrics.attempted).toHaveBeenCalledWith(Channel.Email, 'sent');
  });

  it('retries a 421 after putting the row back to queued, and sends on a later attempt', async () => {
    const { sut, mocks } = newTestDispatcher();
    mocks.email.send
      .mockRejectedValueOnce(smtpReply(421))
      .mockRejectedValueOnce(smtpReply(421))
      .mockResolvedValueOnce({ providerMessageId: '<m-1@x>' });

    expect(await sut.dispatch(EMAIL)).toMatchObject({ status: 'sent' });

    expect(mocks.email.send).toHaveBeenCalledTimes(3);
    expect(mocks.messages.markSending).toHaveBeenCalledTimes(3);
    expect(recorded(mocks.messages)).toEqual([DeliveryStatus.Queued, DeliveryStatus.Queued, DeliveryStatus.Sent]);
    expect(mocks.messages.recordAttempt.mock.calls[0][1]).toEqual({ status: DeliveryStatus.Queued, error: '421 reply' });
  });

  it('fails a 550 at once, with its error', async () => {
    const { sut, mocks } = newTestDispatcher();
    mocks.email.send.mockRejectedValue(smtpReply(550));

    expect(await sut.dispatch(EMAIL)).toEqual({ status: 'failed', error: '550 reply' });

    expect(mocks.email.send).toHaveBeenCalledTimes(1);
    expect(mocks.messages.recordAttempt).toHaveBeenCalledWith('m-1', { status: DeliveryStatus.Failed, error: '550 reply' });
    expect(mocks.metrics.attempted).toHaveBeenCalledWith(Channel.Email, DeliveryStatus.Failed);
  });

  it('fails after DELIVERY_MAX_ATTEMPTS transient failures', async () => {
    const { sut, mocks } = newTestDispatcher();
    mocks.sms.send.mockRejectedValue(new SmsDeliveryError('gateway answered 503', true, 503));

    expect(await sut.dispatch(SMS)).toEqual({ status: 'failed', error: 'gateway answered 503' });

    expect(mocks.sms.send).toHaveBeenCalledTimes(3);
    expect(recorded(mocks.messages)).toEqual([DeliveryStatus.Queued, DeliveryStatus.Queued, DeliveryStatus.Failed]);
  });

  it('counts attempts the row already has: a message with one attempt left gets one', async () => {
    const { sut, mocks } = newTestDispatcher();
    mocks.email.send.mockRejectedValue(smtpReply(451));

    await sut.dispatch({ ...EMAIL, attempts: 2 });

    expect(mocks.email.send).toHaveBeenCalledTimes(1);
    expect(recorded(mocks.messages)).toEqual([DeliveryStatus.Failed]);
  });

  it('sends nothing when the row is no longer queued (the sweeper released it)', async () => {
    const { sut, mocks } = newTestDispatcher();
    mocks.messages.markSending.mockResolvedValue(false);

    expect(await sut.dispatch(EMAIL)).toEqual({ status: 'abandoned' });

    expect(mocks.email.send).not.toHaveBeenCalled();
    expect(mocks.messages.recordAttempt).not.toHaveBeenCalled();
  });

  it('sends a resumed SMS without marking it again, and makes it unknown when the retries run out', async () => {
    const { sut, mocks } = newTestDispatcher();
    mocks.sms.send.mockRejectedValue(new SmsDeliveryError('gateway request failed', true));

    expect(await sut.dispatch({ ...SMS, attempts: 2, resumed: true })).toEqual({ status: 'unknown', error: 'gateway request failed' });

    // Attempt 2 was counted when the sweeper took the row; attempt 3 marks it again after the retry.
    expect(mocks.sms.send).toHaveBeenCalledTimes(2);
    expect(mocks.messages.markSending).toHaveBeenCalledTimes(1);
    expect(recorded(mocks.messages)).toEqual([DeliveryStatus.Queued, DeliveryStatus.Unknown]);
  });

  it('at shutdown stops waiting to retry and releases the claim instead', async () => {
    const { sut, mocks } = newTestDispatcher({ DELIVERY_RETRY_BACKOFF_MS: '60000' });
    mocks.email.send.mockRejectedValue(smtpReply(421));
    const shutdown = new AbortController();

    const dispatched = sut.dispatch({ ...EMAIL, signal: shutdown.signal });
    await new Promise((resolve) => setImmediate(resolve));
    shutdown.abort();

    expect(await dispatched).toEqual({ status: 'failed', error: INTERRUPTED_BEFORE_SENDING });
    expect(mocks.email.send).toHaveBeenCalledTimes(1);
    expect(mocks.messages.settleInterrupted).toHaveBeenCalledWith({ ids: ['m-1'] }, []);
  });

  it('paused (a resumable stop) while waiting to retry, leaves the row queued with its attempt for the resume', async () => {
    const { sut, mocks } = newTestDispatcher({ DELIVERY_RETRY_BACKOFF_MS: '60000' });
    mocks.email.send.mockRejectedValue(smtpReply(451));
    const pause = new AbortController();

    const dispatched = sut.dispatch({ ...EMAIL, signal: pause.signal });
    await new Promise((resolve) => setImmediate(resolve));
    pause.abort({ resumable: true });

    expect(await dispatched).toEqual({ status: 'paused' });
    expect(recorded(mocks.messages)).toEqual([DeliveryStatus.Queued]);
    expect(mocks.messages.settleInterrupted).not.toHaveBeenCalled();
  });

  it('paused while an attempt was in flight, records a transient failure as queued for the resume, not failed', async () => {
    const { sut, mocks } = newTestDispatcher();
    const pause = new AbortController();
    mocks.email.send.mockImplementation(async () => {
      pause.abort({ resumable: true });
      throw smtpReply(421);
    });

    expect(await sut.dispatch({ ...EMAIL, signal: pause.signal })).toEqual({ status: 'paused' });
    expect(recorded(mocks.messages)).toEqual([DeliveryStatus.Queued]);
  });
});
