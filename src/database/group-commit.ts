import DataLoader from 'dataloader';

/** Writes a batch in one statement; returns one result per item, in order, or an Error for an item that failed. */
export type BatchWrite<T, R> = (items: readonly T[]) => Promise<(R | Error)[]>;

/**
 * Group commit for a statement that runs once per message: calls made while a batch is in flight wait and go
 * together in the next one. One caller at a time gets a batch of one with no added delay; many concurrent
 * callers share round trips and commits instead of each paying for their own.
 *
 * If a whole batch fails (one bad item aborts the statement), every item is retried on its own, so the error
 * reaches only the caller whose item caused it.
 */
export function groupCommit<T, R>(write: BatchWrite<T, R>, maxBatchSize = 100): (item: T) => Promise<R> {
  let inFlight: Promise<unknown> = Promise.resolve();
  const run = async (items: readonly T[]): Promise<(R | Error)[]> => {
    try {
      return await write(items);
    } catch (error) {
      if (items.length === 1) return [asError(error)];
      return Promise.all(items.map((item) => write([item]).then((results) => results[0], asError)));
    }
  };
  const loader = new DataLoader<T, R>(
    (items) => {
      const batch = run(items);
      inFlight = batch;
      return batch;
    },
    {
      cache: false,
      maxBatchSize,
      // Dispatch once the batch before this one has finished; until then, new calls join this batch.
      batchScheduleFn: (dispatch) => {
        void inFlight.then(dispatch, dispatch);
      },
    },
  );
  return (item) => loader.load(item);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
