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
