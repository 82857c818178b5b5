import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MessagingModule } from '../messaging/messaging.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { SegmentationModule } from '../segmentation/segmentation.module';
import { AdminStatsController } from './admin-stats.controller';
import { BookingTokenGuard } from './booking-token.guard';
import { EngagementStatsRepository } from './engagement-stats.repository';
import { EngagementStatsService } from './engagement-stats.service';
import { EventsController } from './events.controller';
import { EventsMetrics } from './events.metrics';
import { EventsService } from './events.service';
import { MessageEventEntity } from './message-event.entity';
import { MessageEventRepository } from './message-event.repository';
import { TrackingController } from './tracking.controller';
import { TrackingService } from './tracking.service';

/** What customers do with their messages: events, tracking links, and conversion stats. */
@Module({
  imports: [TypeOrmModule.forFeature([MessageEventEntity]), MessagingModule, SegmentationModule, RateLimitModule],
  controllers: [EventsController, TrackingController, AdminStatsController],
  providers: [
    BookingTokenGuard,
    EngagementStatsRepository,
    EngagementStatsService,
    EventsMetrics,
    EventsService,
    MessageEventRepository,
    TrackingService,
  ],
  exports: [EventsService],
})
export class EventsModule {}
