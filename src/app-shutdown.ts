import { Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { AppConfig } from './config/app-config';
import { DeliveryFanOut } from './delivery/delivery-fan-out';
import { DeliveryWorkers } from './delivery/delivery.worker';
import { ShutdownService } from './jobs/shutdown.service';

/**
 * The first shutdown hook: Nest destroys the root module's providers first and global modules last, and the
 * mailer's SMTP pool, the database connection, BullMQ's queues and DeliveryModule are global. Everything that
 * still sends is stopped from here, in one SHUTDOWN_GRACE_SECONDS, while they are all still open: campaign runs
 * (ShutdownService, absent in a worker process), the queue workers, and the fan-out (send-single, send-bulk).
 */
@Injectable()
export class AppShutdown implements OnModuleDestroy {
  constructor(
    private readonly fanOut: DeliveryFanOut,
    private readonly workers: DeliveryWorkers,
    private readonly config: AppConfig,
    @Optional() private readonly runs?: ShutdownService,
  ) {}

  async onModuleDestroy(): Promise<void> {
    this.fanOut.beginShutdown();
    await Promise.all([this.runs?.stop(), this.workers.stop(this.config.shutdownGraceMs)]);
    await this.fanOut.stop();
  }
}
