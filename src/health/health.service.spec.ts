import { HealthCheckService, HealthIndicatorResult, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { HealthService } from './health.service';
import { LlmHealthIndicator } from './llm.health';
import { RedisHealthIndicator } from './redis.health';
import { SmtpHealthIndicator } from './smtp.health';

const up = (key: string): HealthIndicatorResult => ({ [key]: { status: 'up' } });
const down = (key: string): HealthIndicatorResult => ({ [key]: { status: 'down', message: 'connect ECONNREFUSED' } });

function newTestService({ smtpConfigured = false, llmConfigured = false } = {}) {
  const pingCheck = jest.fn<Promise<HealthIndicatorResult>, [string]>((key) => Promise.resolve(up(key)));
  const smtpCheck = jest.fn<Promise<HealthIndicatorResult>, [string]>((key) => Promise.resolve(up(key)));
  const llmCheck = jest.fn<Promise<HealthIndicatorResult>, [string]>((key) => Promise.resolve(up(key)));
  const terminus = { check: jest.fn() };
  const sut = new HealthService(
    terminus as unknown as HealthCheckService,
    { pingCheck } as unknown as TypeOrmHealthIndicator,
    { configured: smtpConfigured, check: smtpCheck } as unknown as SmtpHealthIndicator,
    { configured: llmConfigured, check: llmCheck } as unknown as LlmHealthIndicator,
    { configured: false, check: jest.fn() } as unknown as RedisHealthIndicator,
  );
  return { sut, mocks: { pingCheck, smtpCheck, llmCheck, terminus } };
}

describe(HealthService.name, () => {
  describe('upByCheck', () => {
    it('reports each configured check, and only those, without going through terminus (which logs every failure)', async () => {
      const { sut, mocks } = newTestService({ smtpConfigured: true });
      mocks.smtpCheck.mockImplementation((key) => Promise.resolve(down(key)));
      expect(await sut.upByCheck()).toEqual(new Map([['database', true], ['smtp', false]]));
      expect(mocks.llmCheck).not.toHaveBeenCalled();
      expect(mocks.terminus.check).not.toHaveBeenCalled();
    });

    it('counts a check that throws as down, and still reports the others', async () => {
      const { sut, mocks } = newTestService({ llmConfigured: true });
      mocks.pingCheck.mockRejectedValue(new Error('pool is closed'));
      expect(await sut.upByCheck()).toEqual(new Map([['database', false], ['llm', true]]));
    });
  });
});
