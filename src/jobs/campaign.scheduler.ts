import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob, CronTime } from 'cron';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { RequestContext } from '../common/request-context';
import { CampaignService } from './campaign.service';
import { CAMPAIGN_JOB_NAME } from './campaign.types';

export const CRON_TIME_ZONE = 'UTC';

/**
 * Registers the daily campaign with @nestjs/schedule (CAMPAIGN_CRON, in UTC). Every replica ticks;
 * the campaign lock lets one of them run and the claim key keeps the others from resending.
 */
@Injectable()
export class CampaignScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(CampaignScheduler.name);

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly campaigns: CampaignService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.campaign.schedulerEnabled) {
      this.logger.log('CAMPAIGN_SCHEDULER_ENABLED=false: the daily campaign is not scheduled here');
      return;
    }
    const job = CronJob.from({
      cronTime: this.config.campaign.cron,
      timeZone: CRON_TIME_ZONE,
      onTick: () => this.tick(),
      waitForCompletion: true,
    });
    this.registry.addCronJob(CAMPAIGN_JOB_NAME, job);
    job.start();
    this.logger.log(`${CAMPAIGN_JOB_NAME} scheduled "${this.config.campaign.cron}" (UTC); next run ${this.nextRun()?.toISOString()}`);
  }

  /** The next time the campaign starts, whether or not this replica schedules it. */
  nextRun(): Date | null {
    if (this.registry.doesExist('cron', CAMPAIGN_JOB_NAME)) {
      return this.registry.getCronJob(CAMPAIGN_JOB_NAME).nextDate().toJSDate();
    }
    return this.config.campaign.schedulerEnabled
      ? new CronTime(this.config.campaign.cron, CRON_TIME_ZONE).sendAt().toJSDate()
      : null;
  }

  async tick(): Promise<void> {
    await RequestContext.run(randomUUID(), async () => {
      try {
        await this.campaigns.runScheduled();
      } catch (error) {
        this.logger.error({ msg: 'The daily campaign failed', err: error });
      }
    });
  }
}
