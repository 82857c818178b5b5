import { FieldError } from './app.exception';

/** Deeper than any DTO here (they are flat); class-transformer recurses per level and overflowed the stack at ~5,000. */
export const MAX_INPUT_DEPTH = 32;

/** class-transformer drops __proto__ and constructor silently, so the whitelist never saw them: rejected like any unknown field. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const MAX_REPORTED = 10;

/**
 * What a validation pipe cannot be trusted to handle in raw request input: nesting deep enough to overflow
 * the stack, prototype keys, and NUL characters (Postgres rejects them in text, as a 500). Walks iteratively,
 * so the check itself cannot overflow. `root` names the input: the parameter name, or '' for a whole body/query.
 */
export function hostileInputProblems(input: unknown, root: string, what: string): FieldError[] {
  const problems: FieldError[] = [];
  const pending: { value: unknown; path: string; depth: number }[] = [{ value: input, path: root, depth: 0 }];
  while (pending.length > 0 && problems.length < MAX_REPORTED) {
    const { value, path, depth } = pending.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) {
        const field = path || what;
        problems.push({ field, message: `${field} must not contain a NUL character` });
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_INPUT_DEPTH) {
      // Named by its top-level field: the full path would be as long as the nesting.
      return [{ field: path.split('.')[0] || what, message: `the ${what} is nested more than ${MAX_INPUT_DEPTH} levels deep` }];
    }
    for (const key of Object.keys(value)) {
      const child = path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) problems.push({ field: child, message: `${child} is not a known field` });
      else pending.push({ value: (value as Record<string, unknown>)[key], path: child, depth: depth + 1 });
    }
  }
  return problems;
}
