import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { RequestContext } from '../common/request-context';
import { CRON_TIME_ZONE } from './campaign.scheduler';
import { JobTrigger } from './job-run.entity';
import { PREPARE_JOB_NAME, PrepareService } from './prepare.service';

/**
 * Prepares the next campaign's drafts on CAMPAIGN_PREPARE_CRON (UTC), when it is set and this replica schedules
 * jobs (CAMPAIGN_SCHEDULER_ENABLED). Every replica ticks; the prepare lock lets one of them prepare.
 */
@Injectable()
export class PrepareScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(PrepareScheduler.name);

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly prepare: PrepareService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const { prepareCron, schedulerEnabled } = this.config.campaign;
    if (!prepareCron || !schedulerEnabled) return;
    if (!this.config.openai.apiKey) {
      this.logger.warn('CAMPAIGN_PREPARE_CRON is set but OPENAI_API_KEY is not: there are no drafts to prepare, nothing is scheduled');
      return;
    }
    const job = CronJob.from({ cronTime: prepareCron, timeZone: CRON_TIME_ZONE, onTick: () => this.tick(), waitForCompletion: true });
    this.registry.addCronJob(PREPARE_JOB_NAME, job);
    job.start();
    this.logger.log(`${PREPARE_JOB_NAME} scheduled "${prepareCron}" (UTC); next run ${job.nextDate().toJSDate().toISOString()}`);
  }

  /** The next time a prepare starts on this replica's schedule; null when it schedules none. */
  nextRun(): Date | null {
    return this.registry.doesExist('cron', PREPARE_JOB_NAME) ? this.registry.getCronJob(PREPARE_JOB_NAME).nextDate().toJSDate() : null;
  }

  async tick(): Promise<void> {
    await RequestContext.run(randomUUID(), async () => {
      try {
        const started = await this.prepare.start(await this.prepare.plan({}), JobTrigger.Cron);
        if (started.kind === 'started') await started.done;
        else this.logger.log(`Prepare not started: ${started.kind === 'locked' ? 'another replica holds the prepare lock' : 'shutting down'}`);
      } catch (error) {
        this.logger.error({ msg: 'The scheduled prepare failed', err: error });
      }
    });
  }
}
