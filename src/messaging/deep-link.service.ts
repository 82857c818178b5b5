import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { MessageCodec } from './message-code';

const BOOKING_TOKEN_AUDIENCE = 'smartengage-booking';
const UNSUBSCRIBE_TOKEN_AUDIENCE = 'smartengage-unsubscribe';
const TOKEN_ISSUER = 'shoktiai-smartengage';

/**
 * What a booking token may do (its `scope` claim). The token in the booking link of an email is the one
 * SmartEngage gives the booking app; the one a tracked click mints goes to anyone who follows the link
 * (link scanners, previewers and their logs included), so it only records engagement.
 */
export enum TokenScope {
  /** In the email's booking link: every event, including booking_completed and unsubscribed. */
  Booking = 'booking',
  /** Minted by `/r/`: message_opened, message_clicked and booking_started only. */
  Click = 'click',
}

/** Claims of the token in a message's booking link. */
export interface BookingTokenClaims {
  sub: string;
  message_id: string;
  service_id: string;
  promo_code: string | null;
  /** Tokens signed before scopes existed have none and count as Click. */
  scope: TokenScope;
}

export interface UnsubscribeTokenClaims {
  sub: string;
  message_id: string;
}

export interface BookingLink {
  url: string;
  token: string;
  expiresAt: Date;
}

/** Signs the links a message carries: the booking deep link, the tracking links and the unsubscribe link. */
@Injectable()
export class DeepLinkService {
  /** Keys derived from JWT_SECRET, one per purpose, so no link's secret is valid as another's. */
  private readonly unsubscribeKey: Buffer;
  private readonly clickCodes: MessageCodec;
  private readonly openCodes: MessageCodec;

  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
  ) {
    const derive = (purpose: string) => createHmac('sha256', config.auth.jwtSecret).update(purpose).digest();
    this.unsubscribeKey = derive(UNSUBSCRIBE_TOKEN_AUDIENCE);
    this.clickCodes = new MessageCodec(derive('smartengage-click-code').subarray(0, 16));
    this.openCodes = new MessageCodec(derive('smartengage-open-code').subarray(0, 16));
  }

  /** The click-tracking link (`/r/<code>`): records a click and redirects with a click-scoped token. */
  clickUrl(messageId: string): string {
    return `${this.config.links.publicBaseUrl}/r/${this.clickCodes.encode(messageId)}`;
  }

  /** The open pixel (`/o/<code>.gif`); its code is not a click code. */
  openPixelUrl(messageId: string): string {
    return `${this.config.links.publicBaseUrl}/o/${this.openCodes.encode(messageId)}.gif`;
  }

  /** The message id of a `/r/` code, or null for a malformed one (an unknown one gives an id of no message). */
  messageIdOfClickCode(code: string): string | null {
    return this.clickCodes.decode(code);
  }

  messageIdOfOpenCode(code: string): string | null {
    return this.openCodes.decode(code);
  }

  bookingLink(claims: BookingTokenClaims, ttlHours: number): BookingLink {
    const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + ttlHours * 3_600_000);
    const token = this.jwt.sign(claims, {
      audience: BOOKING_TOKEN_AUDIENCE,
      issuer: TOKEN_ISSUER,
      expiresIn: ttlHours * 3600,
    });
    return { url: this.bookingUrl(token, claims.promo_code), token, expiresAt };
  }

  /** A booking link that expires at a given instant (the message's link_expires_at), e.g. re-signed on a tracked click. */
  bookingLinkUntil(claims: BookingTokenClaims, expiresAt: Date): BookingLink {
    const exp = Math.floor(expiresAt.getTime() / 1000);
    const { sub, message_id, service_id, promo_code, scope } = claims;
    const token = this.jwt.sign(
      { sub, message_id, service_id, promo_code, scope, exp },
      { audience: BOOKING_TOKEN_AUDIENCE, issuer: TOKEN_ISSUER },
    );
    return { url: this.bookingUrl(token, promo_code), token, expiresAt: new Date(exp * 1000) };
  }

  /** Built by hand: this runs for every message, and the token is already URL-safe (base64url and dots). */
  private bookingUrl(token: string, promoCode: string | null): string {
    const base = this.config.links.bookingBaseUrl;
    const promo = promoCode ? `&promo=${encodeURIComponent(promoCode)}` : '';
    return `${base}${base.includes('?') ? '&' : '?'}token=${token}${promo}`;
  }

  /**
   * Unsubscribe links do not expire: an old email must still let its reader opt out. The token is the two
   * ids and an HMAC of them (base64url), shorter and far cheaper to make than a second JWT per message.
   */
  unsubscribeUrl(claims: UnsubscribeTokenClaims): string {
    const ids = Buffer.from(`${claims.sub}${claims.message_id}`.replace(/-/g, ''), 'hex');
    const token = `${ids.toString('base64url')}.${this.unsubscribeMac(ids).toString('base64url')}`;
    return `${this.config.links.publicBaseUrl}/unsubscribe/${token}`;
  }

  /** Returns the claims of a valid, unexpired booking token, or null for a forged, expired or foreign one. */
  verifyBookingToken(token: string): Partial<BookingTokenClaims> | null {
    try {
      return this.jwt.verify<BookingTokenClaims>(token, {
        audience: BOOKING_TOKEN_AUDIENCE,
        issuer: TOKEN_ISSUER,
        algorithms: ['HS256'],
      });
    } catch {
      return null;
    }
  }

  /** Returns the claims of a valid unsubscribe token, or null for a forged or foreign one. */
  verifyUnsubscribeToken(token: string): UnsubscribeTokenClaims | null {
    const match = /^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return null;
    const ids = Buffer.from(match[1], 'base64url');
    const mac = Buffer.from(match[2], 'base64url');
    // Re-encoding must give the same text: base64 decoders ignore the spare bits of the last character.
    if (ids.toString('base64url') !== match[1] || mac.toString('base64url') !== match[2]) return null;
    if (!timingSafeEqual(mac, this.unsubscribeMac(ids))) return null;
    const hex = ids.toString('hex');
    return { sub: toUuid(hex.slice(0, 32)), message_id: toUuid(hex.slice(32)) };
  }

  private unsubscribeMac(ids: Buffer): Buffer {
    return createHmac('sha256', this.unsubscribeKey).update(ids).digest();
  }

}

const toUuid = (hex: string) =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
