/** Removes every secret from a message before it leaves the process (health output, logs). */
export function redact(message: string, secrets: (string | undefined)[]): string {
  return secrets.reduce<string>(
    (text, secret) => (secret && secret.length >= 4 ? text.split(secret).join('[redacted]') : text),
    message,
  );
}

type ErrorLike = { name?: unknown; message?: unknown; cause?: unknown };

// Duck-typed: errors from fetch (undici) may come from another realm, where `instanceof Error` is false.
const asErrorLike = (error: unknown): ErrorLike | undefined =>
  typeof error === 'object' && error !== null ? (error as ErrorLike) : undefined;

export function errorMessage(error: unknown): string {
  const candidate = asErrorLike(error);
  if (candidate && typeof candidate.message === 'string' && candidate.message) return candidate.message;
  if (candidate && typeof candidate.name === 'string') return candidate.name;
  return String(error);
}

export const errorName = (error: unknown): string | undefined => {
  const name = asErrorLike(error)?.name;
  return typeof name === 'string' ? name : undefined;
};

/** fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, ...) is in `cause`. */
export function errorMessageWithCause(error: unknown): string {
  const cause = asErrorLike(error)?.cause;
  return cause ? `${errorMessage(error)}: ${errorMessage(cause)}` : errorMessage(error);
}
