import { Logger } from '@nestjs/common';
import { EnvironmentVariables } from './config/environment';
import { EmbeddedDatabase, startEmbeddedPostgres } from './database/embedded-postgres';

/**
 * Sets DATABASE_URL for the rest of the process: the configured server, or an embedded
 * Postgres under .data/ for development (never in production, where DATABASE_URL is required).
 */
export async function resolveDatabase(env: EnvironmentVariables): Promise<EmbeddedDatabase | null> {
  if (env.DATABASE_URL) return null;
  const logger = new Logger('Database');
  logger.log('DATABASE_URL is not set: starting an embedded Postgres');
  const embedded = await startEmbeddedPostgres(env.EMBEDDED_PG_DIR, (line) => logger.log(line));
  process.env.DATABASE_URL = embedded.url;
  env.DATABASE_URL = embedded.url;
  return embedded;
}
