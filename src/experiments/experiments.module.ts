import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SmartEngageModule } from '../smartengage/smartengage.module';
import { ExperimentAssignmentEntity, ExperimentEntity } from './experiment.entity';
import { ExperimentRepository } from './experiment.repository';
import { ExperimentsController } from './experiments.controller';
import { ExperimentsMetrics } from './experiments.metrics';
import { ExperimentsService } from './experiments.service';

/**
 * Holdouts and A/B variants of the reminder. Global: send-bulk (SmartEngage) and campaign runs (Jobs) take a
 * split from ExperimentsService, while Experiments checks promo codes through SmartEngage's OfferService.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([ExperimentEntity, ExperimentAssignmentEntity]), SmartEngageModule],
  controllers: [ExperimentsController],
  providers: [ExperimentRepository, ExperimentsService, ExperimentsMetrics],
  exports: [ExperimentsService],
})
export class ExperimentsModule {}
