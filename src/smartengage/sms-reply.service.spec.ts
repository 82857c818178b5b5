import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { EventsService, RecordedEvent } from '../events/events.service';
import { EventSource, EventType } from '../events/message-event.entity';
import { MessageEvent } from '../events/message-event.repository';
import { AiMessageEntity } from '../messaging/ai-message.entity';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { CustomerRepository } from '../segmentation/customer.repository';
import { isStopWord, SmsReplyService } from './sms-reply.service';

describe('isStopWord', () => {
  it.each(['STOP', 'stop', ' Stop ', 'S T O P', 'stop.', 'STOP!', 'UNSUBSCRIBE', 'Unsubscribe', 'END', 'end', 'বন্ধ', ' বন্ধ। ', 'ব ন্ ধ'])(
    '%j opts out',
    (text) => expect(isStopWord(text)).toBe(true),
  );

  it.each(["don't stop", 'stop please', 'STOPPED', 'weekend', 'বন্ধু', 'বন্ধ করুন', 'হ্যাঁ', '', '   '])(
    '%j does not',
    (text) => expect(isStopWord(text)).toBe(false),
  );
});

function newTestService() {
  const customers = mock<CustomerRepository>();
  customers.optOut.mockResolvedValue(true);
  const messages = mock<AiMessageRepository>();
  const events = mock<EventsService>();
  const sut = new SmsReplyService(customers, messages, events);
  return { sut, mocks: { customers, messages, events } };
}

const SIGNED_AT = new Date('2026-12-07T10:00:00Z');
const message = (id: string, userId: string) => ({ id, userId }) as AiMessageEntity;
const recorded = (duplicate: boolean): RecordedEvent => ({ event: {} as MessageEvent, duplicate });

describe('SmsReplyService', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('ignores any other text without looking the number up', async () => {
    const { sut, mocks } = newTestService();
    expect(await sut.receive({ from: '+8801711005688', text: 'পরে বুক করব' }, SIGNED_AT)).toBe('ignored');
    expect(mocks.customers.findIdsByPhone).not.toHaveBeenCalled();
  });

  it('ignores a number that is no customer\'s', async () => {
    const { sut, mocks } = newTestService();
    mocks.customers.findIdsByPhone.mockResolvedValue([]);
    expect(await sut.receive({ from: '+8801999999999', text: 'STOP' }, SIGNED_AT)).toBe('ignored');
    expect(mocks.events.record).not.toHaveBeenCalled();
    expect(mocks.customers.optOut).not.toHaveBeenCalled();
  });

  it('records the unsubscribe on each customer\'s latest SMS, at received_at, else the signed time', async () => {
    const { sut, mocks } = newTestService();
    mocks.customers.findIdsByPhone.mockResolvedValue(['a', 'b']);
    mocks.messages.findLatestSentSms.mockImplementation(async (id: string) => message(`m-${id}`, id));
    mocks.events.record.mockResolvedValueOnce(recorded(true)).mockResolvedValueOnce(recorded(false));

    expect(await sut.receive({ from: '+8801711005688', text: 'stop', received_at: '2026-12-07T09:59:00Z' }, SIGNED_AT)).toBe('recorded');
    expect(mocks.events.record.mock.calls).toEqual([
      [message('m-a', 'a'), EventType.Unsubscribed, EventSource.SmsReply, new Date('2026-12-07T09:59:00Z')],
      [message('m-b', 'b'), EventType.Unsubscribed, EventSource.SmsReply, new Date('2026-12-07T09:59:00Z')],
    ]);

    mocks.events.record.mockResolvedValue(recorded(true));
    expect(await sut.receive({ from: '+8801711005688', text: 'STOP' }, SIGNED_AT)).toBe('duplicate');
    expect(mocks.events.record).toHaveBeenLastCalledWith(message('m-b', 'b'), EventType.Unsubscribed, EventSource.SmsReply, SIGNED_AT);
  });

  it('opts out a customer with no SMS of ours directly, as sms_reply', async () => {
    const { sut, mocks } = newTestService();
    mocks.customers.findIdsByPhone.mockResolvedValue(['a']);
    mocks.messages.findLatestSentSms.mockResolvedValue(null);
    expect(await sut.receive({ from: '+8801711005688', text: 'বন্ধ' }, SIGNED_AT)).toBe('recorded');
    expect(mocks.customers.optOut).toHaveBeenCalledWith('a', 'sms_reply');
    expect(mocks.events.record).not.toHaveBeenCalled();
  });
});
