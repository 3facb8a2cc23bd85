import { z } from 'zod';

/**
 * Field types shared by action payloads. Numeric fields also accept numeric strings ("30") and booleans
 * accept "true"/"false" (PROTOCOL.md §3.1 rule 6); nothing else is coerced, so `""` or `[]` is an error.
 */
const NUMERIC_STRING = /^\s*-?\d+(\.\d+)?\s*$/;

export const numeric = z.preprocess(
  (v) => (typeof v === 'string' && NUMERIC_STRING.test(v) ? Number(v) : v),
  z.number(),
);

export const integer = z.preprocess(
  (v) => (typeof v === 'string' && NUMERIC_STRING.test(v) ? Number(v) : v),
  z.number().int(),
);

export const boolish = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/** A server id as the panel sends it: uuid, cuid or any safe token (§3.1 rule 4). */
export const SERVER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isValidServerId(id: unknown): id is string {
  return typeof id === 'string' && SERVER_ID_PATTERN.test(id) && !id.includes('..');
}

/** Formats zod issues as one message that names each field at fault. */
export function describeIssues(error: z.ZodError, prefix = 'payload'): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const where = [prefix, ...issue.path.map(String)].join('.');
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}
