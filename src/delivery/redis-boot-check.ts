import Redis, { RedisOptions } from 'ioredis';
import { redactedRedisUrl, redisConnection } from './delivery-jobs';

/**
 * Connects once with the queues' own connection options and throws, naming REDIS_URL and the cause, when Redis
 * answers but refuses what the URL asks: its user name or password, or its database index. The queues' clients
 * only log those and go on (a wrong index leaves every key in db 0; a wrong password retries until the boot
 * wait ends as "did not answer"). A Redis that does not answer at all is left to that wait.
 */
export async function checkRedisAccepts(url: string, timeoutMs: number): Promise<void> {
  const options = redisConnection(url) as RedisOptions;
  const client = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  let refusal: Error | undefined;
  client.on('error', (error: Error) => {
    if (isReply(error)) refusal ??= error;
  });
  try {
    await client.connect();
    // ioredis selects the database on connect but only emits the refusal; ask again to get the answer.
    await client.select(options.db ?? 0);
  } catch (error) {
    if (isReply(error)) refusal ??= error as Error;
  } finally {
    client.disconnect();
  }
  if (refusal) throw new Error(`REDIS_URL ${redactedRedisUrl(url)}: ${describeRefusal(refusal, options.db ?? 0)}`);
}

/** An answer from the server (ioredis's ReplyError), as opposed to a connection that failed. */
const isReply = (error: unknown): boolean => error instanceof Error && error.name === 'ReplyError';

function describeRefusal(error: Error, db: number): string {
  if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(error.message)) {
    return `Redis refused the user name or password (${error.message})`;
  }
  if (/DB index/i.test(error.message)) return `Redis has no database ${db} (${error.message}); give an index it has, such as /0`;
  return `Redis refused the connection (${error.message})`;
}
