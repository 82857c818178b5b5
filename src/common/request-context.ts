import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

interface RequestContextStore {
  correlationId: string;
}

const storage = new AsyncLocalStorage<RequestContextStore>();

/** Carries the correlation id of the current request or job through async calls. */
export const RequestContext = {
  run<T>(correlationId: string, fn: () => T): T {
    return storage.run({ correlationId }, fn);
  },
  correlationId(): string | undefined {
    return storage.getStore()?.correlationId;
  },
  /** The current correlation id, or a new one when called outside a request. */
  ensureCorrelationId(): string {
    return storage.getStore()?.correlationId ?? randomUUID();
  },
};
