import { EggError } from './parse.js';

/**
 * `config.startup.done` → the spec's `startupDone` pattern (PROTOCOL.md §4.6): `running` once a console line
 * contains one of the strings, or matches one given with a `regex:` prefix. The spec keeps one regular expression
 * (power.ts matches it as it always has), so literals are escaped and the alternatives joined. Empty strings
 * are skipped: as a substring they would match every line.
 */

/** The payload's own `startupDone` has this bound; the egg's is held to it too. */
export const MAX_DONE_PATTERN = 1024;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export function doneToPattern(done: string[], path: (string | number)[]): string | undefined {
  const parts: string[] = [];
  for (const [i, entry] of done.entries()) {
    if (entry === '') continue;
    const source = entry.startsWith('regex:') ? entry.slice('regex:'.length) : escapeRegex(entry);
    try {
      new RegExp(source);
    } catch {
      throw new EggError([...path, i], 'not a valid regular expression');
    }
    parts.push(source);
  }
  if (parts.length === 0) return undefined;
  const pattern = parts.length === 1 ? (parts[0] as string) : parts.map((p) => `(?:${p})`).join('|');
  if (pattern.length > MAX_DONE_PATTERN) throw new EggError(path, `longer than ${MAX_DONE_PATTERN} characters`);
  return pattern;
}
