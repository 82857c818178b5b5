import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MessagingModule } from '../messaging/messaging.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { HealthController } from './health.controller';
import { HealthGauge } from './health.gauge';
import { HealthService } from './health.service';
import { LlmHealthIndicator } from './llm.health';
import { RedisHealthIndicator } from './redis.health';
import { SmsGatewayHealthIndicator } from './sms-gateway.health';
import { SmtpHealthIndicator } from './smtp.health';

/** GET /health/live, GET /health/ready (and /health): is the process up, is it ready, which dependency is not? The same checks as a metric. */
@Module({
  imports: [TerminusModule.forRoot(), MessagingModule, RateLimitModule],
  controllers: [HealthController],
  providers: [HealthService, HealthGauge, SmtpHealthIndicator, LlmHealthIndicator, RedisHealthIndicator, SmsGatewayHealthIndicator],
})
export class HealthModule {}
