import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs `fn` until it succeeds, `attempts` times in all, waiting `delayMs` (doubled each time) in between;
 * the last error is thrown. For writes that must land after a connection died: pg-pool drops a client
 * whose connection broke, so each retry runs on a fresh connection.
 */
export async function retry<T>(fn: () => Promise<T>, { attempts = 4, delayMs = 100 } = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(delayMs * 2 ** (attempt - 1));
    }
  }
}
