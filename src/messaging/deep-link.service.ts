import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AppConfig } from '../config/app-config';

export const BOOKING_TOKEN_AUDIENCE = 'smartengage-booking';
export const UNSUBSCRIBE_TOKEN_AUDIENCE = 'smartengage-unsubscribe';
export const TOKEN_ISSUER = 'shoktiai-smartengage';

/** Claims of the token in a message's booking link. */
export interface BookingTokenClaims {
  sub: string;
  message_id: string;
  service_id: string;
  promo_code: string | null;
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

/** Signs the links a message carries: the booking deep link and the unsubscribe link. */
@Injectable()
export class DeepLinkService {
  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
  ) {}

  bookingLink(claims: BookingTokenClaims, ttlHours: number): BookingLink {
    const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + ttlHours * 3_600_000);
    const token = this.jwt.sign(claims, {
      audience: BOOKING_TOKEN_AUDIENCE,
      issuer: TOKEN_ISSUER,
      expiresIn: ttlHours * 3600,
    });
    const url = new URL(this.config.links.bookingBaseUrl);
    url.searchParams.set('token', token);
    if (claims.promo_code) url.searchParams.set('promo', claims.promo_code);
    return { url: url.toString(), token, expiresAt };
  }

  /** A booking link that expires at a given instant (the message's link_expires_at), e.g. re-signed on a tracked click. */
  bookingLinkUntil(claims: BookingTokenClaims, expiresAt: Date): BookingLink {
    const exp = Math.floor(expiresAt.getTime() / 1000);
    const { sub, message_id, service_id, promo_code } = claims;
    const token = this.jwt.sign(
      { sub, message_id, service_id, promo_code, exp },
      { audience: BOOKING_TOKEN_AUDIENCE, issuer: TOKEN_ISSUER },
    );
    const url = new URL(this.config.links.bookingBaseUrl);
    url.searchParams.set('token', token);
    if (promo_code) url.searchParams.set('promo', promo_code);
    return { url: url.toString(), token, expiresAt: new Date(exp * 1000) };
  }

  /** Unsubscribe links do not expire: an old email must still let its reader opt out. */
  unsubscribeUrl(claims: UnsubscribeTokenClaims): string {
    const token = this.jwt.sign(claims, { audience: UNSUBSCRIBE_TOKEN_AUDIENCE, issuer: TOKEN_ISSUER });
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
    try {
      return this.jwt.verify<UnsubscribeTokenClaims>(token, {
        audience: UNSUBSCRIBE_TOKEN_AUDIENCE,
        issuer: TOKEN_ISSUER,
        algorithms: ['HS256'],
      });
    } catch {
      return null;
    }
  }
}
