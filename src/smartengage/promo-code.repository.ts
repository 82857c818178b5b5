import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Offer } from '../messaging/message-content';
import { PromoCodeEntity } from './promo-code.entity';

@Injectable()
export class PromoCodeRepository {
  constructor(@InjectRepository(PromoCodeEntity) private readonly promos: Repository<PromoCodeEntity>) {}

  /** The offer behind an active, unexpired code, or null. */
  async findActiveOffer(code: string): Promise<Offer | null> {
    const row = await this.promos
      .createQueryBuilder('promo')
      .where('promo.code = :code AND promo.active', { code })
      .andWhere('(promo.valid_until IS NULL OR promo.valid_until > now())')
      .getOne();
    return row ? { promoCode: row.code, discountPercent: row.discountPercent } : null;
  }
}
