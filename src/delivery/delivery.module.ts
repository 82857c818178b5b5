import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DeliveryFanOut } from './delivery-fan-out';
import { ReminderDeliveryStep } from '../messaging/reminder-delivery-step';
import { Channel } from '../messaging/message.types';
import { MessagingModule } from '../messaging/messaging.module';
import { ReminderDelivery } from '../messaging/reminder-delivery';
import { DeliveryJobProbe } from '../messaging/delivery-job-probe';
import { DELIVERY_QUEUES, redisConnection } from './delivery-jobs';
import { DeliveryWorkerDeps, DeliveryWorkers, EmailDeliveryWorker, SmsDeliveryWorker } from './delivery.worker';
import { QueueErrorLog } from './queue-error-log';
import { QueueJobsGauge } from './queue-jobs.gauge';
import { QueuedReminderDelivery } from './queued-reminder-delivery';

export interface DeliveryModeOptions {
  /** REDIS_URL is set: deliveries go through BullMQ queues. */
  queued: boolean;
  /** This process consumes the queues (APP_ROLE all or worker). */
  worker: boolean;
}

/**
 * How deliveries run, chosen at boot: in-process (REDIS_URL unset: DeliveryFanOut calls the per-customer step
 * directly) or through BullMQ (DeliveryFanOut adds jobs; the workers of every process with APP_ROLE all or
 * worker run the same step). Callers only see DeliveryFanOut, whichever mode.
 */
@Global()
@Module({})
export class DeliveryModule {
  static forRoot({ queued, worker }: DeliveryModeOptions): DynamicModule {
    const queueProviders: Provider[] = queued
      ? [QueuedReminderDelivery, QueueErrorLog, QueueJobsGauge, ...(worker ? [DeliveryWorkerDeps, EmailDeliveryWorker, SmsDeliveryWorker] : [])]
      : [];
    return {
      module: DeliveryModule,
      imports: [
        MessagingModule,
        ...(queued
          ? [
              BullModule.forRootAsync({
                inject: [AppConfig],
                useFactory: (config: AppConfig) => ({
                  connection: redisConnection(config.redis.url!),
                  prefix: `${config.redis.keyPrefix}bull`,
                  // Each queue's event stream is trimmed, so Redis memory stays flat however many jobs pass through;
                  // five times BullMQ's default gives a producer that lags (a GC pause, a slow network) some
                  // seconds of history at 1,000 jobs/s before a completion is lost (the watchdog then re-adds).
                  streams: { events: { maxLen: 50_000 } },
                }),
              }),
              BullModule.registerQueue({ name: DELIVERY_QUEUES[Channel.Email] }, { name: DELIVERY_QUEUES[Channel.Sms] }),
            ]
          : []),
      ],
      providers: [
        DeliveryFanOut,
        DeliveryWorkers,
        ...queueProviders,
        queued
          ? { provide: ReminderDelivery, useExisting: QueuedReminderDelivery }
          : { provide: ReminderDelivery, useExisting: ReminderDeliveryStep },
        // The sweeper (Messaging) asks the queue before it releases a `queued` row.
        ...(queued ? [{ provide: DeliveryJobProbe, useExisting: QueuedReminderDelivery }] : []),
      ],
      exports: [
        DeliveryFanOut,
        DeliveryWorkers,
        ReminderDelivery,
        ...(queued ? [QueuedReminderDelivery, DeliveryJobProbe] : []),
      ],
    };
  }
}
