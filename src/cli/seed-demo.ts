import { seedDemoData } from '../database/demo-seed';
import { runMigrationsUnderLock } from '../database/migrate';
import { withDataSource } from './with-data-source';

void withDataSource(async (dataSource, log) => {
  await runMigrationsUnderLock(dataSource);
  await seedDemoData(dataSource);
  log.log('Demo services, customers and bookings are loaded');
});
