import { AgentError } from '../errors.js';

/** Path rules of PROTOCOL.md §4.4 "Paths", applied before anything touches the disk. Pure, property-tested. */

export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The segments of a client path relative to the server root: leading slashes stripped, `//` collapsed, `.`
 * dropped, `..` resolved. Climbing above the root is refused, never clamped. `""` and `"/"` are the root (no
 * segments).
 */
export function toSegments(input: unknown, field = 'path'): string[] {
  if (typeof input !== 'string') throw new AgentError('INVALID_PATH', `${field}: must be a string`);
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) {
    throw new AgentError('INVALID_PATH', `${field}: longer than ${MAX_PATH_BYTES} bytes`);
  }
  if (CONTROL.test(input)) throw new AgentError('INVALID_PATH', `${field}: contains a control character`);
  const out: string[] = [];
  for (const segment of input.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) throw new AgentError('PATH_OUTSIDE_ROOT', `${field}: climbs above the server root`);
      out.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new AgentError('INVALID_PATH', `${field}: a name is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
    out.push(segment);
  }
  return out;
}

/** The path as the agent reports it back: always absolute from the server root. */
export function displayPath(segments: readonly string[]): string {
  return `/${segments.join('/')}`;
}

/** Paths inside archives: the same rules, but an escaping entry is skipped by the caller rather than fatal. */
export function archiveEntrySegments(name: string): string[] | undefined {
  try {
    const normalized = name.replace(/\\/g, '/');
    if (/^[a-zA-Z]:/.test(normalized)) return undefined; // a Windows drive path
    const segments = toSegments(normalized, 'entry');
    return segments.length > 0 ? segments : undefined;
  } catch {
    return undefined;
  }
}
