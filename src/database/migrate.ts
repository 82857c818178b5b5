import { DataSource, Migration } from 'typeorm';
import { LockId } from './lock-ids';
import { LockService } from './lock.service';

/** Runs pending migrations under the migrations lock, so replicas booting together apply each one once. */
export function runMigrationsUnderLock(dataSource: DataSource): Promise<Migration[]> {
  return new LockService(dataSource).withLock(LockId.Migrations, () =>
    dataSource.runMigrations({ transaction: 'each' }),
  );
}
