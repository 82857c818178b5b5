import { ISendMailOptions, MailerService } from '@nestjs-modules/mailer';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppConfig } from '../config/app-config';
import { smtpUrlWarnings } from '../config/smtp-url';

export interface OutgoingEmail {
  messageId: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  unsubscribeUrl: string;
}

export interface EmailReceipt {
  /** The Message-ID header the email went out with. */
  providerMessageId: string;
  /** Where the email was written, when it went to the local outbox. */
  outboxPath?: string;
}

/**
 * Sends email through the mailer: pooled SMTP when SMTP_URL is set, otherwise nodemailer's
 * stream transport, whose raw MIME lands in the outbox folder as one .eml per message.
 */
@Injectable()
export class EmailSender implements OnModuleInit {
  private readonly logger = new Logger(EmailSender.name);
  private readonly outboxDir: string | null;

  constructor(
    private readonly mailer: MailerService,
    private readonly config: AppConfig,
  ) {
    this.outboxDir = config.mail.smtpUrl ? null : resolve(config.mail.outboxDir);
  }

  async onModuleInit(): Promise<void> {
    for (const warning of this.config.mail.smtpUrl ? smtpUrlWarnings(this.config.mail.smtpUrl) : []) this.logger.warn(warning);
    if (this.outboxDir) {
      await mkdir(this.outboxDir, { recursive: true });
      this.logger.log(`SMTP_URL is not set: emails are written to the outbox ${this.outboxDir}`);
    }
  }

  async send(email: OutgoingEmail): Promise<EmailReceipt> {
    const options = emailOptions(email, this.config.mail.from);
    const info = await this.mailer.sendMail(options);
    const headerId = options.messageId as string;
    if (!this.outboxDir) return { providerMessageId: headerId };

    const outboxPath = resolve(this.outboxDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${email.messageId}.eml`);
    await writeFile(outboxPath, info.message as Buffer);
    this.logger.log({ msg: `Email written to ${outboxPath}`, messageId: email.messageId });
    return { providerMessageId: headerId, outboxPath };
  }
}

/** What nodemailer is given for one email (the campaign bench sends the same to measure the raw send limit). */
export function emailOptions(email: OutgoingEmail, from: string): ISendMailOptions {
  return {
    to: email.to,
    subject: email.subject,
    text: email.text,
    html: email.html,
    messageId: `<${email.messageId}@${mailDomain(from)}>`,
    // Bengali UTF-8 triples under quoted-printable; base64 is smaller and cheaper to encode.
    textEncoding: 'base64',
    // RFC 8058 one-click. Set as plain headers: nodemailer's `list` option reformats the URL at a
    // measurable cost per message, and ours needs no reformatting.
    headers: {
      'List-Unsubscribe': `<${email.unsubscribeUrl}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    // Bodies are our own strings: nothing may be read from files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

function mailDomain(from: string): string {
  const match = /@([^>\s]+)/.exec(from);
  return match ? match[1] : 'smartengage.local';
}
