import { Global, Logger, Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';
import { LockLeaseRepository } from './lock-lease.repository';
import { LockService } from './lock.service';
import { DatabasePoolGauge } from './pool.gauge';
import { runMigrationsUnderLock } from './migrate';

/** The TypeORM connection (DATABASE_URL) and its pool gauges, pending migrations at boot, and locks. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        if (!config.database.url) throw new Error('DATABASE_URL must be resolved before the app module starts');
        return { ...dataSourceOptions(config.database.url), autoLoadEntities: true };
      },
    }),
  ],
  providers: [LockService, LockLeaseRepository, DatabasePoolGauge],
  exports: [LockService],
})
export class DatabaseModule implements OnModuleInit {
  private readonly logger = new Logger(DatabaseModule.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.database.runMigrations) {
      this.logger.log('MIGRATIONS_RUN=false: not running migrations at boot');
      return;
    }
    const applied = await runMigrationsUnderLock(this.dataSource);
    this.logger.log(applied.length ? `Applied migrations: ${applied.map((m) => m.name).join(', ')}` : 'Schema is up to date');
  }
}
