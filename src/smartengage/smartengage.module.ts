import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventsModule } from '../events/events.module';
import { MessagingModule } from '../messaging/messaging.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { SegmentationModule } from '../segmentation/segmentation.module';
import { AdminSmartEngageController } from './admin-smartengage.controller';
import { MessageStatusService } from './message-status.service';
import { OfferService } from './offer.service';
import { OptOutService } from './opt-out.service';
import { PromoCodeEntity } from './promo-code.entity';
import { PromoCodeRepository } from './promo-code.repository';
import { SmartEngageService } from './smartengage.service';
import { SmsReplyController } from './sms-reply.controller';
import { SmsReplyService } from './sms-reply.service';
import { SmsSignatureGuard } from './sms-signature.guard';
import { UnsubscribeController } from './unsubscribe.controller';

/** The operator-facing use cases: send reminders, and the customer's way out. */
@Module({
  imports: [TypeOrmModule.forFeature([PromoCodeEntity]), SegmentationModule, MessagingModule, EventsModule, RateLimitModule],
  controllers: [AdminSmartEngageController, UnsubscribeController, SmsReplyController],
  providers: [SmartEngageService, MessageStatusService, OptOutService, OfferService, PromoCodeRepository, SmsReplyService, SmsSignatureGuard],
  exports: [OfferService],
})
export class SmartEngageModule {}
