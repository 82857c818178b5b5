/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. Once `signal`
 * aborts, no further item starts (their results stay undefined) and the calls in flight finish.
 */
export async function mapWithConcurrency<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Waits for `work`, but once `signal` aborts for at most `graceMs` more. True when `work` finished,
 * false when the grace ran out first (the work goes on unobserved).
 */
export async function finishWithin(work: Promise<unknown>, signal: AbortSignal, graceMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let startGrace = () => undefined as void;
  const graceOver = new Promise<false>((resolve) => {
    startGrace = () => {
      timer = setTimeout(() => resolve(false), graceMs);
    };
  });
  if (signal.aborted) startGrace();
  else signal.addEventListener('abort', startGrace, { once: true });
  try {
    return await Promise.race([work.then(() => true as const), graceOver]);
  } finally {
    signal.removeEventListener('abort', startGrace);
    clearTimeout(timer);
  }
}
