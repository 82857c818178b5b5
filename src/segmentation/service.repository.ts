import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { ServiceEntity } from './service.entity';

export interface ServiceInfo {
  id: string;
  name: string;
  nameBn: string;
  emoji: string;
}

@Injectable()
export class ServiceRepository {
  constructor(@InjectRepository(ServiceEntity) private readonly services: Repository<ServiceEntity>) {}

  async findById(id: string): Promise<ServiceInfo | null> {
    const row = await this.services.findOneBy({ id });
    return row ? toInfo(row) : null;
  }

  async findByIds(ids: string[]): Promise<Map<string, ServiceInfo>> {
    if (ids.length === 0) return new Map();
    const rows = await this.services.findBy({ id: In(ids) });
    return new Map(rows.map((row) => [row.id, toInfo(row)]));
  }
}

/**
 * The services of the customers' last bookings, added to `cache`, which a run's pages share: one query for the
 * services not in it yet.
 */
export async function lastBookedServices(
  services: ServiceRepository,
  customers: readonly { lastBookingServiceId: string | null }[],
  cache: Map<string, ServiceInfo>,
): Promise<Map<string, ServiceInfo>> {
  const missing = [...new Set(customers.map((c) => c.lastBookingServiceId).filter((id): id is string => !!id && !cache.has(id)))];
  for (const [id, service] of await services.findByIds(missing)) cache.set(id, service);
  return cache;
}

const toInfo = (row: ServiceEntity): ServiceInfo => ({ id: row.id, name: row.name, nameBn: row.nameBn, emoji: row.emoji });
