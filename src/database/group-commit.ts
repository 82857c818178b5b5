import DataLoader from 'dataloader';

/** Writes a batch in one statement; returns one result per item, in order, or an Error for an item that failed. */
export type BatchWrite<T, R> = (items: readonly T[]) => Promise<(R | Error)[]>;

/**
 * Group commit for a statement that runs once per message: calls made while a batch is in flight wait and go
 * together in the next one. One caller at a time gets a batch of one with no added delay; many concurrent
 * callers share round trips and commits instead of each paying for their own. Batches run one at a time, in
 * the order they filled up.
 *
 * If a whole batch fails (one bad item aborts the statement), its items are retried one by one, so the error
 * reaches only the caller whose item caused it.
 */
export function groupCommit<T, R>(write: BatchWrite<T, R>, maxBatchSize = 100): (item: T) => Promise<R> {
  // Settles when every batch scheduled so far has finished; each new batch is chained behind it.
  let queueDone: Promise<void> = Promise.resolve();
  // Handed from the schedule to the batch function, which DataLoader calls synchronously on dispatch.
  let finishDispatched: () => void = () => undefined;

  const run = async (items: readonly T[]): Promise<(R | Error)[]> => {
    try {
      return await write(items);
    } catch (error) {
      if (items.length === 1) return [asError(error)];
      const results: (R | Error)[] = [];
      for (const item of items) results.push(await write([item]).then((one) => one[0], asError));
      return results;
    }
  };

  const loader = new DataLoader<T, R>(
    (items) => {
      const finish = finishDispatched;
      const batch = run(items);
      void batch.then(finish);
      return batch;
    },
    {
      cache: false,
      maxBatchSize,
      batchScheduleFn: (dispatch) => {
        const previous = queueDone;
        let finish!: () => void;
        queueDone = new Promise((resolve) => (finish = resolve));
        void previous.then(() => {
          finishDispatched = finish;
          dispatch();
        });
      },
    },
  );
  return (item) => loader.load(item);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
