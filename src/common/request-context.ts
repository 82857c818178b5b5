import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What every log line written inside a request or job carries as fields (see app-logger.ts). */
export interface LogContext {
  correlationId: string;
  /** The job_runs row of the campaign run in progress. */
  runId?: string;
  /** The customer being messaged. */
  customerId?: string;
  /** The ai_messages row being generated and sent. */
  messageId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Carries the correlation id (and the run and message in hand) of the current request or job through async calls. */
export const RequestContext = {
  run<T>(correlationId: string, fn: () => T): T {
    return storage.run({ correlationId }, fn);
  },
  /** Runs fn with extra fields on top of the current context; concurrent callers each get their own copy. */
  with<T>(fields: Omit<LogContext, 'correlationId'>, fn: () => T): T {
    const current = storage.getStore() ?? { correlationId: randomUUID() };
    return storage.run({ ...current, ...fields }, fn);
  },
  correlationId(): string | undefined {
    return storage.getStore()?.correlationId;
  },
  /** The current correlation id, or a new one when called outside a request. */
  ensureCorrelationId(): string {
    return storage.getStore()?.correlationId ?? randomUUID();
  },
  /** The current context as log fields (a copy: pino merges into it), or nothing outside any request or job. */
  logFields(): Partial<LogContext> {
    const store = storage.getStore();
    return store ? { ...store } : {};
  },
};
