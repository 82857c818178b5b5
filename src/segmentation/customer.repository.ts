import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { CustomerEntity } from './customer.entity';
import { CustomerProfile } from './customer-profile';

@Injectable()
export class CustomerRepository {
  constructor(@InjectRepository(CustomerEntity) private readonly customers: Repository<CustomerEntity>) {}

  async findProfile(id: string): Promise<CustomerProfile | null> {
    const [profile] = await this.findProfiles([id]);
    return profile ?? null;
  }

  async findProfiles(ids: string[]): Promise<CustomerProfile[]> {
    if (ids.length === 0) return [];
    const rows = await this.customers.find({ where: { id: In(ids) }, relations: { user: true } });
    return rows.map(toProfile);
  }

  /** The customers whose stored phone number is exactly this one (users_phone_idx). */
  async findIdsByPhone(phone: string): Promise<string[]> {
    const rows: { id: string }[] = await this.customers
      .createQueryBuilder('customer')
      .innerJoin('customer.user', 'user')
      .select('customer.id', 'id')
      .where('user.phone = :phone', { phone })
      .getRawMany();
    return rows.map((row) => row.id);
  }

  /** Opts a customer out; returns false when there is no such customer. Idempotent: keeps the first time. */
  async optOut(id: string, source: string): Promise<boolean> {
    const result = await this.customers
      .createQueryBuilder()
      .update()
      .set({ optedOutAt: () => 'COALESCE(opted_out_at, now())', optOutSource: () => 'COALESCE(opt_out_source, :source)' })
      .setParameter('source', source)
      .where('id = :id', { id })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}

function toProfile(row: CustomerEntity): CustomerProfile {
  return {
    id: row.id,
    name: row.user.name,
    email: row.user.email,
    phone: row.user.phone,
    lastBookingAt: row.lastBookingAt,
    lastBookingServiceId: row.lastBookingServiceId,
    totalBookings: row.totalBookings,
    optedOutAt: row.optedOutAt,
  };
}
