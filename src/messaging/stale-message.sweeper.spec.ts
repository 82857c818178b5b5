import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { Lease, LockService } from '../database/lock.service';
import { AiMessageRepository } from './ai-message.repository';
import { DeliveryJobProbe } from './delivery-job-probe';
import { MessageDispatcher } from './message-dispatcher';
import { Channel } from './message.types';
import { MessagingMetrics } from './messaging.metrics';
import { StaleMessageSweeper } from './stale-message.sweeper';

function newTestSweeper({ queued }: { queued: boolean }) {
  const messages = mock<AiMessageRepository>();
  messages.findStaleQueued.mockResolvedValue([
    { id: 'waiting-retry', channel: Channel.Email },
    { id: 'job-gone', channel: Channel.Sms },
  ]);
  messages.settleInterrupted.mockResolvedValue({ released: [Channel.Sms], unknown: [] });
  messages.takeStaleSms.mockResolvedValue({ resend: [], unknown: 0 });
  const locks = mock<LockService>();
  locks.tryLock.mockImplementation(async (_id, fn) => ({ acquired: true, result: await fn({} as Lease) }));
  const metrics = mock<MessagingMetrics>();
  const queue = mock<DeliveryJobProbe>();
  queue.jobsInQueue.mockResolvedValue(new Set(['waiting-retry']));
  // Quiet hours never start, so the SMS part of the sweep always runs.
  const config = new AppConfig(validateEnvironment({ STALE_CLAIM_MINUTES: '1', SMS_QUIET_HOURS_START: '0', SMS_QUIET_HOURS_END: '0' }));
  const sut = new StaleMessageSweeper(messages, {} as MessageDispatcher, locks, metrics, config, queued ? queue : undefined);
  return { sut, mocks: { messages, queue } };
}

describe(StaleMessageSweeper.name, () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it('in queue mode releases only the stale queued messages whose job is gone from the queue', async () => {
    const { sut, mocks } = newTestSweeper({ queued: true });
    const report = await sut.sweep();
    expect(mocks.queue.jobsInQueue).toHaveBeenCalledWith([
      { id: 'waiting-retry', channel: Channel.Email },
      { id: 'job-gone', channel: Channel.Sms },
    ]);
    expect(mocks.messages.settleInterrupted).toHaveBeenCalledWith({ staleBefore: expect.any(Date), releaseOnly: ['job-gone'] }, [Channel.Email]);
    expect(report).toMatchObject({ released: 1 });
  });

  it('in-process releases every stale queued message, asking no queue', async () => {
    const { sut, mocks } = newTestSweeper({ queued: false });
    await sut.sweep();
    expect(mocks.messages.findStaleQueued).not.toHaveBeenCalled();
    expect(mocks.messages.settleInterrupted).toHaveBeenCalledWith({ staleBefore: expect.any(Date), releaseOnly: undefined }, [Channel.Email]);
  });

  it('releases nothing queued when the queue cannot be asked (the sweep fails and is tried again)', async () => {
    const { sut, mocks } = newTestSweeper({ queued: true });
    mocks.queue.jobsInQueue.mockRejectedValue(new Error('Redis is down'));
    await expect(sut.sweep()).rejects.toThrow('Redis is down');
    expect(mocks.messages.settleInterrupted).not.toHaveBeenCalled();
  });
});
