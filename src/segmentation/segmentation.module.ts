import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BookingEntity } from './booking.entity';
import { CustomerEntity } from './customer.entity';
import { CustomerRepository } from './customer.repository';
import { EligibleCustomerRepository } from './eligible-customer.repository';
import { ServiceEntity } from './service.entity';
import { ServiceRepository } from './service.repository';
import { UserEntity } from './user.entity';

/** Who the customers are and what they booked. */
@Module({
  imports: [TypeOrmModule.forFeature([UserEntity, CustomerEntity, ServiceEntity, BookingEntity])],
  providers: [CustomerRepository, ServiceRepository, EligibleCustomerRepository],
  exports: [CustomerRepository, ServiceRepository, EligibleCustomerRepository],
})
export class SegmentationModule {}
