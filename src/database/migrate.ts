import { DataSource, Migration, MigrationExecutor } from 'typeorm';
import { LockId } from './lock-ids';

/**
 * Runs pending migrations in one transaction that first takes a transaction-scoped advisory lock, so
 * replicas booting together apply each migration once: the second waits, then finds nothing pending.
 *
 * A transaction is the one unit every pooler keeps on one server connection, so this holds through
 * PgBouncer in transaction mode too, where a session lock would be taken on one server connection and
 * "released" on another (and leak). The lock ends with the transaction, also when the client dies. All
 * pending migrations commit or roll back together; a migration that sets its own `transaction` is refused.
 */
export async function runMigrationsUnderLock(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    try {
      await runner.query('SELECT pg_advisory_xact_lock($1)', [LockId.Migrations]);
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'all'; // inside our transaction, which it does not commit
      const applied = await executor.executePendingMigrations();
      await runner.commitTransaction();
      return applied;
    } catch (error) {
      await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    }
  } finally {
    await runner.release();
  }
}
