import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MessagingModule } from '../messaging/messaging.module';
import { SegmentationModule } from '../segmentation/segmentation.module';
import { SmartEngageModule } from '../smartengage/smartengage.module';
import { AbandonedRunSweeper } from './abandoned-run.sweeper';
import { CampaignRunner } from './campaign-runner';
import { CampaignMetrics } from './campaign.metrics';
import { CampaignScheduler } from './campaign.scheduler';
import { CampaignService } from './campaign.service';
import { InternalJobsController } from './internal-jobs.controller';
import { InternalRunsController } from './internal-runs.controller';
import { JobRunEntity } from './job-run.entity';
import { JobRunRepository } from './job-run.repository';
import { JobsService } from './jobs.service';
import { LiveRuns } from './live-runs';
import { PrepareScheduler } from './prepare.scheduler';
import { PrepareService } from './prepare.service';
import { RunsService } from './runs.service';
import { ShutdownService } from './shutdown.service';

/** The daily campaign: its schedule, its runs and the internal routes that drive them. */
@Module({
  imports: [
    ScheduleModule.forRoot(),
    TypeOrmModule.forFeature([JobRunEntity]),
    SegmentationModule,
    MessagingModule,
    SmartEngageModule,
  ],
  controllers: [InternalJobsController, InternalRunsController],
  providers: [
    AbandonedRunSweeper,
    CampaignRunner,
    CampaignMetrics,
    CampaignService,
    CampaignScheduler,
    JobRunRepository,
    JobsService,
    LiveRuns,
    PrepareScheduler,
    PrepareService,
    RunsService,
    ShutdownService,
  ],
  exports: [ShutdownService],
})
export class JobsModule {}
