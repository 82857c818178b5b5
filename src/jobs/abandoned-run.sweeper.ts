import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { RequestContext } from '../common/request-context';
import { LiveRuns } from './live-runs';

/**
 * Closes campaign and prepare runs whose process died (RUNNING, lease gone) as FAILED, at boot and once per lease TTL, so a
 * dead run is settled within two TTLs even when no other run starts. Readers never write: until then they show
 * the row as FAILED (job-run.mapper.ts). Every replica may sweep; the update only touches rows still RUNNING.
 */
@Injectable()
export class AbandonedRunSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AbandonedRunSweeper.name);
  private timer?: NodeJS.Timeout;
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly liveRuns: LiveRuns,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.config.database.lockLeaseTtlMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.current;
  }

  private sweep(): Promise<void> {
    this.current = RequestContext.run(randomUUID(), async () => {
      try {
        await this.liveRuns.settleAbandoned();
      } catch (error) {
        this.logger.error(`The sweep of abandoned runs failed: ${error instanceof Error ? error.message : error}`);
      }
    });
    return this.current;
  }
}
