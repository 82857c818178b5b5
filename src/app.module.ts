import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { AppShutdown } from './app-shutdown';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { AppLoggerModule } from './common/app-logger';
import { CorrelationIdMiddleware } from './common/correlation-id.middleware';
import { UndeclaredQueryInterceptor } from './common/undeclared-query';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/config.module';
import { DeliveryModule } from './delivery/delivery.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { EventsModule } from './events/events.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { SmartEngageModule } from './smartengage/smartengage.module';

/**
 * The application, composed for this process's APP_ROLE: `all` and `api` serve the whole HTTP API and run the
 * scheduler; `worker` only consumes deliveries (with /health and /metrics). REDIS_URL decides whether
 * deliveries run in-process or through the queue (DeliveryModule). `config` is the one validated configuration,
 * its database URL resolved (main.ts; tests pass their own).
 */
@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    const role = config.queue.role;
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        AppLoggerModule,
        DatabaseModule,
        MetricsModule,
        HealthModule,
        DeliveryModule.forRoot({ queued: Boolean(config.redis.url), worker: role !== 'api' }),
        ...(role === 'worker' ? [] : [SmartEngageModule, JobsModule, EventsModule]),
      ],
      providers: [
        AppShutdown,
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_INTERCEPTOR, useClass: UndeclaredQueryInterceptor },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CorrelationIdMiddleware).forRoutes('*');
  }
}
