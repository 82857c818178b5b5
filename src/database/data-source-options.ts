import { DataSourceOptions } from 'typeorm';
import { InitialSchema1732406400000 } from '../../migrations/1732406400000-InitialSchema';
import { CampaignScheduling1732492800000 } from '../../migrations/1732492800000-CampaignScheduling';
import { EngagementEvents1732579200000 } from '../../migrations/1732579200000-EngagementEvents';
import { RescheduledBookings1732665600000 } from '../../migrations/1732665600000-RescheduledBookings';
import { BatchedMessageWrites1732752000000 } from '../../migrations/1732752000000-BatchedMessageWrites';
import { LockLeases1732838400000 } from '../../migrations/1732838400000-LockLeases';
import { EngagementOncePerMinute1732841000000 } from '../../migrations/1732841000000-EngagementOncePerMinute';
import { RecipientAddresses1732842000000 } from '../../migrations/1732842000000-RecipientAddresses';
import { DeliveryStates1732924800000 } from '../../migrations/1732924800000-DeliveryStates';
import { RunControl1733011200000 } from '../../migrations/1733011200000-RunControl';
import { TableOwners1733097600000 } from '../../migrations/1733097600000-TableOwners';
import { StoredDrafts1733100000000 } from '../../migrations/1733100000000-StoredDrafts';
import { RunUnknownCount1733184000000 } from '../../migrations/1733184000000-RunUnknownCount';
import { SmsRepliesAndMachineOpens1733270400000 } from '../../migrations/1733270400000-SmsRepliesAndMachineOpens';
import { Experiments1733356800000 } from '../../migrations/1733356800000-Experiments';
import { MessageLlmCost1733500000000 } from '../../migrations/1733500000000-MessageLlmCost';
import { PreparedDrafts1733529600000 } from '../../migrations/1733529600000-PreparedDrafts';

/** Listed explicitly so the same code runs from ts-jest and from dist/. */
export const MIGRATIONS = [
  InitialSchema1732406400000,
  CampaignScheduling1732492800000,
  EngagementEvents1732579200000,
  RescheduledBookings1732665600000,
  BatchedMessageWrites1732752000000,
  LockLeases1732838400000,
  EngagementOncePerMinute1732841000000,
  RecipientAddresses1732842000000,
  DeliveryStates1732924800000,
  RunControl1733011200000,
  TableOwners1733097600000,
  StoredDrafts1733100000000,
  RunUnknownCount1733184000000,
  SmsRepliesAndMachineOpens1733270400000,
  Experiments1733356800000,
  MessageLlmCost1733500000000,
  PreparedDrafts1733529600000,
];

/**
 * The connection's options. Entities are not listed here: each module registers its own with
 * TypeOrmModule.forFeature, and DatabaseModule loads them (autoLoadEntities).
 */
export function dataSourceOptions(url: string, poolSize = 10): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsRun: false,
    synchronize: false,
    logging: ['error'],
    extra: { max: poolSize, application_name: 'smartengage' },
  };
}
