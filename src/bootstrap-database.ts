import { Logger } from '@nestjs/common';
import { EnvironmentVariables } from './config/environment';
import { EmbeddedDatabase, startEmbeddedPostgres } from './database/embedded-postgres';

/** The database this process uses, and the embedded server it started (to stop at exit), if any. */
export interface ResolvedDatabase {
  url: string;
  embedded: EmbeddedDatabase | null;
}

/**
 * The configured DATABASE_URL, or an embedded Postgres under .data/ for development (never in production, where
 * DATABASE_URL is required). The caller puts the URL in the configuration it builds.
 */
export async function resolveDatabase(env: EnvironmentVariables): Promise<ResolvedDatabase> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, embedded: null };
  const logger = new Logger('Database');
  logger.log('DATABASE_URL is not set: starting an embedded Postgres');
  const embedded = await startEmbeddedPostgres(env.EMBEDDED_PG_DIR, (line) => logger.log(line));
  return { url: embedded.url, embedded };
}
