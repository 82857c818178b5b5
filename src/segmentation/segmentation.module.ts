import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BookingEntity } from './booking.entity';
import { CustomerEntity } from './customer.entity';
import { CustomerRepository } from './customer.repository';
import { SegmentRepository } from './segment.repository';
import { ServiceEntity } from './service.entity';
import { ServiceRepository } from './service.repository';
import { UserEntity } from './user.entity';

/** Who the customers are and what they booked. */
@Module({
  imports: [TypeOrmModule.forFeature([UserEntity, CustomerEntity, ServiceEntity, BookingEntity])],
  providers: [CustomerRepository, ServiceRepository, SegmentRepository],
  exports: [CustomerRepository, ServiceRepository, SegmentRepository],
})
export class SegmentationModule {}
