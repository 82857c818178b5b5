import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { UUID_SHAPE } from '../common/dto-fields';
import { BookingTokenClaims, DeepLinkService, TokenScope } from '../messaging/deep-link.service';
import { invalidBookingToken } from './events.exceptions';

interface BookingTokenRequest extends Request {
  bookingClaims?: BookingTokenClaims;
}

/**
 * Routes the customer's app calls with the booking token of a message: `Authorization: Bearer <token>`.
 * A missing, forged, expired or foreign (e.g. unsubscribe) token is a 401; the claims, with the token's
 * scope, go on the request.
 */
@Injectable()
export class BookingTokenGuard implements CanActivate {
  constructor(private readonly links: DeepLinkService) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<BookingTokenRequest>();
    const match = /^Bearer\s+(\S+)$/i.exec(request.header('authorization') ?? '');
    if (!match) throw invalidBookingToken('missing Authorization: Bearer <booking token>');
    request.bookingClaims = this.verify(match[1]);
    return true;
  }

  private verify(token: string): BookingTokenClaims {
    const payload = this.links.verifyBookingToken(token);
    if (!payload) throw invalidBookingToken('the booking token is not valid or has expired');
    const { sub, message_id, service_id, promo_code, scope } = payload;
    // Ids are checked here so a token signed with odd claims can never reach a uuid column.
    if (typeof sub !== 'string' || !UUID_SHAPE.test(sub) || typeof message_id !== 'string' || !UUID_SHAPE.test(message_id)) {
      throw invalidBookingToken('the booking token does not name a message');
    }
    // Least privilege: a token without the booking scope (a click's, or one signed before scopes) is a click token.
    const granted = scope === TokenScope.Booking ? TokenScope.Booking : TokenScope.Click;
    return { sub, message_id, service_id: service_id ?? '', promo_code: promo_code ?? null, scope: granted };
  }
}

/** The verified claims BookingTokenGuard put on the request. */
export const BookingClaims = createParamDecorator((_data: unknown, context: ExecutionContext): BookingTokenClaims => {
  const claims = context.switchToHttp().getRequest<BookingTokenRequest>().bookingClaims;
  if (!claims) throw invalidBookingToken('missing booking token');
  return claims;
});
