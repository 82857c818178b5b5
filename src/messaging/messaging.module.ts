import { MailerModule } from '@nestjs-modules/mailer';
import { Module } from '@nestjs/common';
import { createSecretKey } from 'node:crypto';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { SafetyModule } from '../safety/safety.module';
import { AiMessageEntity } from './ai-message.entity';
import { AiMessageRepository } from './ai-message.repository';
import { DeepLinkService } from './deep-link.service';
import { DeliveryStatusGauge } from './delivery-status.gauge';
import { DraftingService } from './drafting.service';
import { EmailSender } from './email.sender';
import { ReminderDeliveryStep } from './reminder-delivery-step';
import { LlmBudget } from './llm-budget';
import { LlmCircuitBreaker } from './llm-circuit-breaker';
import { LlmMetrics } from './llm.metrics';
import { LlmCircuitGauge } from './llm-circuit.gauge';
import { MessageComposer } from './message-composer';
import { MessageDispatcher } from './message-dispatcher';
import { MessagingMetrics } from './messaging.metrics';
import { OpenAiBatches } from './openai-batches';
import { OpenAiProseGenerator } from './openai-prose.generator';
import { PreparedDraftRepository } from './prepared-draft.repository';
import { PreparedDrafts } from './prepared-drafts.service';
import { SmsComposer } from './sms-composer';
import { SmsSender } from './sms.sender';
import { StaleMessageSweeper } from './stale-message.sweeper';
import { smtpTransport } from './smtp-transport';
import { TemplateProseGenerator } from './template-prose.generator';

/**
 * Writes, checks and sends messages, and keeps the message log. DeliveryModule decides whether the per-customer
 * step runs here or behind a queue.
 */
@Module({
  imports: [
    SafetyModule,
    TypeOrmModule.forFeature([AiMessageEntity]),
    JwtModule.registerAsync({
      inject: [AppConfig],
      // A KeyObject, not the string: jsonwebtoken first tries a string as a PEM key and throws, on every call.
      useFactory: (config: AppConfig) => ({
        secret: createSecretKey(Buffer.from(config.auth.jwtSecret)),
        signOptions: { algorithm: 'HS256' },
      }),
    }),
    MailerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        transport: config.mail.smtpUrl
          ? smtpTransport(config.mail.smtpUrl, config.mail.smtpMaxConnections)
          : { streamTransport: true, buffer: true, newline: 'windows' },
        defaults: { from: config.mail.from },
      }),
    }),
  ],
  providers: [
    AiMessageRepository,
    DeepLinkService,
    DeliveryStatusGauge,
    DraftingService,
    EmailSender,
    LlmBudget,
    LlmCircuitBreaker,
    LlmCircuitGauge,
    LlmMetrics,
    MessageComposer,
    MessageDispatcher,
    MessagingMetrics,
    OpenAiBatches,
    OpenAiProseGenerator,
    PreparedDraftRepository,
    PreparedDrafts,
    SmsComposer,
    SmsSender,
    StaleMessageSweeper,
    TemplateProseGenerator,
    ReminderDeliveryStep,
  ],
  exports: [ReminderDeliveryStep, DeepLinkService, AiMessageRepository, LlmCircuitBreaker, PreparedDrafts],
})
export class MessagingModule {}
