import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { register } from 'prom-client';
import { DELIVERY_STATUS_CACHE_MS, DeliveryStatusGauge } from './delivery-status.gauge';
import { Metric } from '../metrics/metric-names';
import { AiMessageRepository } from './ai-message.repository';

/** What one scrape of the gauge reports, by status. */
async function scrape(): Promise<Record<string, number>> {
  const metric = register.getSingleMetric(Metric.DeliveryStatus);
  if (!metric) throw new Error('the gauge is not registered');
  const { values } = await metric.get();
  return Object.fromEntries(values.map(({ labels, value }) => [String(labels.status), value]));
}

function newTestGauge() {
  const repository = mock<AiMessageRepository>();
  const sut = new DeliveryStatusGauge(repository);
  sut.onModuleInit();
  return { sut, mocks: { countByStatus: repository.countByStatus } };
}

describe(DeliveryStatusGauge.name, () => {
  let now = Date.parse('2026-11-24T09:00:00Z');

  beforeEach(() => {
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    register.removeSingleMetric(Metric.DeliveryStatus);
  });

  it('reports every known status, zero when no message has it', async () => {
    const { mocks } = newTestGauge();
    mocks.countByStatus.mockResolvedValue(new Map([['sent', 5], ['failed', 1]]));
    expect(await scrape()).toEqual({
      queued: 0,
      sending: 0,
      unknown: 0,
      sent: 5,
      delivered: 0,
      failed: 1,
      opened: 0,
      clicked: 0,
      booked: 0,
      unsubscribed: 0,
    });
  });

  it('queries the database once per cache period, however often it is scraped', async () => {
    const { mocks } = newTestGauge();
    mocks.countByStatus.mockResolvedValueOnce(new Map([['sent', 1]])).mockResolvedValueOnce(new Map([['sent', 2]]));
    await Promise.all([scrape(), scrape()]);
    now += DELIVERY_STATUS_CACHE_MS - 1;
    expect((await scrape()).sent).toBe(1);
    expect(mocks.countByStatus).toHaveBeenCalledTimes(1);

    now += 1;
    expect((await scrape()).sent).toBe(2);
    expect(mocks.countByStatus).toHaveBeenCalledTimes(2);
  });

  it('keeps the last counts while the database fails, and asks again on the next scrape', async () => {
    const { mocks } = newTestGauge();
    mocks.countByStatus
      .mockResolvedValueOnce(new Map([['sent', 3]]))
      .mockRejectedValueOnce(new Error('connection terminated'))
      .mockResolvedValueOnce(new Map([['sent', 4]]));
    expect((await scrape()).sent).toBe(3);
    now += DELIVERY_STATUS_CACHE_MS;
    expect((await scrape()).sent).toBe(3);
    expect((await scrape()).sent).toBe(4);
    expect(mocks.countByStatus).toHaveBeenCalledTimes(3);
  });

  it('reports no series rather than false zeros when the database has never answered', async () => {
    const { mocks } = newTestGauge();
    mocks.countByStatus.mockRejectedValue(new Error('connection refused'));
    expect(await scrape()).toEqual({});
  });

  it('replaces the gauge of an earlier app, and removes only its own on shutdown', async () => {
    const first = newTestGauge();
    const second = newTestGauge();
    second.mocks.countByStatus.mockResolvedValue(new Map([['opened', 7]]));
    first.sut.onModuleDestroy();
    expect((await scrape()).opened).toBe(7);
    expect(first.mocks.countByStatus).not.toHaveBeenCalled();
    second.sut.onModuleDestroy();
    expect(register.getSingleMetric(Metric.DeliveryStatus)).toBeUndefined();
  });
});
