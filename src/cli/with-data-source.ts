import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { resolveDatabase } from '../bootstrap-database';
import { validateEnvironment } from '../config/environment';
import { dataSourceOptions } from '../database/data-source-options';

/** Runs a command-line task against DATABASE_URL, or the embedded database when it is unset. */
export async function withDataSource(task: (dataSource: DataSource, log: Logger) => Promise<void>): Promise<void> {
  const log = new Logger('cli');
  try {
    const env = validateEnvironment(process.env);
    const { url, embedded } = await resolveDatabase(env);
    const dataSource = await new DataSource(dataSourceOptions(url, 2)).initialize();
    try {
      await task(dataSource, log);
    } finally {
      await dataSource.destroy();
      await embedded?.stop();
    }
  } catch (error) {
    log.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
