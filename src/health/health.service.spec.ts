import { HealthIndicatorResult, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DeliveryWorkers } from '../delivery/delivery.worker';
import { HealthService } from './health.service';
import { LlmHealthIndicator } from './llm.health';
import { RedisHealthIndicator } from './redis.health';
import { SmsGatewayHealthIndicator } from './sms-gateway.health';
import { SmtpHealthIndicator } from './smtp.health';

type CheckMock = jest.Mock<Promise<HealthIndicatorResult>, [string]>;
const up = (key: string): HealthIndicatorResult => ({ [key]: { status: 'up' } });
const down = (key: string): HealthIndicatorResult => ({ [key]: { status: 'down', message: 'connect ECONNREFUSED' } });
const checkMock = (): CheckMock => jest.fn((key: string) => Promise.resolve(up(key)));

function newTestService({ smtp = false, llm = false, redis = false, sms = false, consuming = false } = {}) {
  const mocks = {
    pingCheck: checkMock(),
    smtpCheck: checkMock(),
    llmCheck: checkMock(),
    redisCheck: checkMock(),
    smsCheck: checkMock(),
    queueProblem: jest.fn<Promise<string | null>, []>(() => Promise.resolve(null)),
  };
  const indicators = new HealthIndicatorService();
  const sut = new HealthService(
    indicators,
    { pingCheck: mocks.pingCheck } as Pick<TypeOrmHealthIndicator, 'pingCheck'> as TypeOrmHealthIndicator,
    { configured: smtp, check: mocks.smtpCheck } as Pick<SmtpHealthIndicator, 'configured' | 'check'> as SmtpHealthIndicator,
    { configured: llm, check: mocks.llmCheck } as Pick<LlmHealthIndicator, 'configured' | 'check'> as LlmHealthIndicator,
    { configured: redis, check: mocks.redisCheck } as Pick<RedisHealthIndicator, 'configured' | 'check'> as RedisHealthIndicator,
    { configured: sms, check: mocks.smsCheck } as Pick<SmsGatewayHealthIndicator, 'configured' | 'check'> as SmsGatewayHealthIndicator,
    { consuming, queueProblem: mocks.queueProblem } as Pick<DeliveryWorkers, 'consuming' | 'queueProblem'> as DeliveryWorkers,
  );
  return { sut, mocks };
}

describe(HealthService.name, () => {
  describe('readiness', () => {
    it('stays ready while SMTP, the SMS gateway and the LLM are down, reporting them, and names what is not configured', async () => {
      const { sut, mocks } = newTestService({ smtp: true, llm: true, sms: true });
      for (const check of [mocks.smtpCheck, mocks.llmCheck, mocks.smsCheck]) check.mockImplementation((key) => Promise.resolve(down(key)));
      const result = await sut.readiness();
      expect(result.status).toBe('ok');
      expect(Object.keys(result.error!).sort()).toEqual(['llm', 'sms_gateway', 'smtp']);
      expect(result.info).toEqual({ database: { status: 'up' } });
      expect(result.details).toMatchObject({ redis: { status: 'not_configured' }, queue: { status: 'not_configured' } });
    });

    it.each([
      ['the database', 'pingCheck'],
      ['Redis in queue mode', 'redisCheck'],
    ] as const)('is not ready when %s is down', async (_case, mock) => {
      const { sut, mocks } = newTestService({ redis: true });
      mocks[mock].mockImplementation((key) => Promise.resolve(down(key)));
      expect((await sut.readiness()).status).toBe('error');
    });

    it("is not ready when a worker's queue connection is not, saying why; a check that throws counts as down", async () => {
      const { sut, mocks } = newTestService({ redis: true, consuming: true });
      mocks.queueProblem.mockResolvedValue("smartengage-email worker's Redis connection is reconnecting");
      mocks.pingCheck.mockRejectedValue(new Error('pool is closed'));
      const result = await sut.readiness();
      expect(result.status).toBe('error');
      expect(result.error).toEqual({
        queue: { status: 'down', message: "smartengage-email worker's Redis connection is reconnecting" },
        database: { status: 'down', message: 'pool is closed' },
      });
    });
  });

  describe('upByCheck', () => {
    it('reports each configured check, and only those', async () => {
      const { sut, mocks } = newTestService({ smtp: true, sms: true });
      mocks.smtpCheck.mockImplementation((key) => Promise.resolve(down(key)));
      expect(await sut.upByCheck()).toEqual(new Map([['database', true], ['smtp', false], ['sms_gateway', true]]));
      expect(mocks.llmCheck).not.toHaveBeenCalled();
    });

    it('shares one SMTP check between the metric and readiness within its interval', async () => {
      const { sut, mocks } = newTestService({ smtp: true });
      await Promise.all([sut.upByCheck(), sut.readiness(), sut.readiness()]);
      await sut.readiness();
      expect(mocks.smtpCheck).toHaveBeenCalledTimes(1);
    });
  });
});
