import { Injectable } from '@nestjs/common';
import { Offer } from '../messaging/message-content';
import { PromoCodeRepository } from './promo-code.repository';
import { unknownPromoCode } from './smartengage.exceptions';

/** The one check of a requested promo code, for send-single, send-bulk and campaign runs. */
@Injectable()
export class OfferService {
  constructor(private readonly promos: PromoCodeRepository) {}

  /** The offer behind `promoCode` (null without one); an inactive or unknown code is bad input naming promo_code. */
  async resolve(promoCode: string | null | undefined): Promise<Offer | null> {
    if (!promoCode) return null;
    const offer = await this.promos.findActiveOffer(promoCode);
    if (!offer) throw unknownPromoCode(promoCode);
    return offer;
  }

  /** The offer behind an active, unexpired code, or null (the caller says what an inactive one means). */
  findActive(promoCode: string): Promise<Offer | null> {
    return this.promos.findActiveOffer(promoCode);
  }
}
