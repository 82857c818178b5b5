import { runMigrationsUnderLock } from '../database/migrate';
import { withDataSource } from './with-data-source';

void withDataSource(async (dataSource, log) => {
  const applied = await runMigrationsUnderLock(dataSource);
  log.log(applied.length ? `Applied: ${applied.map((m) => m.name).join(', ')}` : 'Schema is up to date');
});
