import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { invalidSignature, webhookDisabled } from './smartengage.exceptions';

export const TIMESTAMP_HEADER = 'x-smartengage-timestamp';
export const SIGNATURE_HEADER = 'x-smartengage-signature';
/** How far a signature's timestamp may be from our clock: a captured request cannot be replayed later. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`, as Stripe and Slack sign their webhooks. */
export function smsReplySignature(secret: string, timestamp: string, rawBody: Buffer | string): string {
  const hmac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  return `sha256=${hmac}`;
}

/** The signed time of a request that passed SmsSignatureGuard. */
export function signedAt(request: Request): Date {
  return new Date(Number(request.header(TIMESTAMP_HEADER)) * 1000);
}

/**
 * POST /webhooks/sms/inbound: the body signed with SMS_INBOUND_SECRET, at most SIGNATURE_TOLERANCE_SECONDS old.
 * Checked before the body is validated, so an unsigned caller learns nothing about the fields.
 */
@Injectable()
export class SmsSignatureGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request & { rawBody?: Buffer }>();
    const secret = this.config.sms.inboundSecret;
    if (!secret) throw webhookDisabled(request.method, request.path);

    const timestamp = request.header(TIMESTAMP_HEADER) ?? '';
    const signature = request.header(SIGNATURE_HEADER) ?? '';
    if (!/^\d{1,12}$/.test(timestamp) || !/^sha256=[0-9a-f]{64}$/i.test(signature)) {
      throw invalidSignature('missing X-SmartEngage-Timestamp (unix seconds) or X-SmartEngage-Signature (sha256=<hex>)');
    }
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
      throw invalidSignature('X-SmartEngage-Timestamp is more than 5 minutes from now');
    }
    const expected = Buffer.from(smsReplySignature(secret, timestamp, request.rawBody ?? ''));
    const offered = Buffer.from(signature.toLowerCase());
    if (!timingSafeEqual(expected, offered)) throw invalidSignature('X-SmartEngage-Signature does not match the body');
    return true;
  }
}
