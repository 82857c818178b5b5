import { MailerModule } from '@nestjs-modules/mailer';
import { Module } from '@nestjs/common';
import { createSecretKey } from 'node:crypto';
import { connect, Socket } from 'node:net';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { smtpConnectionOptions } from '../config/smtp-url';
import { SafetyModule } from '../safety/safety.module';
import { AiMessageEntity } from './ai-message.entity';
import { AiMessageRepository } from './ai-message.repository';
import { DeepLinkService } from './deep-link.service';
import { DraftingService } from './drafting.service';
import { EmailSender } from './email.sender';
import { InProcessReminderDelivery } from './in-process-reminder-delivery';
import { LlmCircuitBreaker } from './llm-circuit-breaker';
import { LlmCircuitGauge } from './llm-circuit.gauge';
import { MessageComposer } from './message-composer';
import { MessagingMetrics } from './messaging.metrics';
import { OpenAiProseGenerator } from './openai-prose.generator';
import { ReminderDelivery } from './reminder-delivery';
import { SmsComposer } from './sms-composer';
import { SmsSender } from './sms.sender';
import { TemplateProseGenerator } from './template-prose.generator';

/**
 * Pooled SMTP from SMTP_URL. Sockets get TCP_NODELAY: SMTP writes small commands and waits for each
 * reply, and with Nagle's algorithm every message stalled ~40 ms on a delayed ACK.
 */
function smtpTransport(url: string, maxConnections: number) {
  // Parsed here: nodemailer drops every other option of an object that carries `url`.
  return {
    ...smtpConnectionOptions(url),
    pool: true,
    maxConnections,
    maxMessages: 1000,
    getSocket: (options: { host?: string; port?: number; secure?: boolean }, callback: SocketCallback) => {
      const socket = connect({ host: options.host, port: options.port ?? (options.secure ? 465 : 587) });
      socket.setNoDelay(true);
      coalesceWrites(socket);
      const failed = (error: Error) => callback(error);
      socket.once('error', failed);
      socket.once('connect', () => {
        socket.off('error', failed);
        callback(null, { connection: socket });
      });
    },
  };
}

/**
 * nodemailer streams a message in many small chunks (one per encoded line); with TCP_NODELAY each would be its
 * own syscall and packet. Corking until the next tick sends everything written in one tick as one writev.
 */
function coalesceWrites(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => {
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    return write(...args);
  }) as Socket['write'];
}

type SocketCallback = (error: Error | null, socketOptions?: { connection: Socket }) => void;

/** Writes, checks and sends messages, and keeps the message log. */
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
    DraftingService,
    EmailSender,
    LlmCircuitBreaker,
    LlmCircuitGauge,
    MessageComposer,
    MessagingMetrics,
    OpenAiProseGenerator,
    SmsComposer,
    SmsSender,
    TemplateProseGenerator,
    { provide: ReminderDelivery, useClass: InProcessReminderDelivery },
  ],
  exports: [ReminderDelivery, DeepLinkService, AiMessageRepository, LlmCircuitBreaker],
})
export class MessagingModule {}
