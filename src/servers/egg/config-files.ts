import { z } from 'zod';
import { CONFIG_PARSERS, type ConfigFileRule, type ConfigParser } from '../../files/config-files/rules.js';
import { toSegments } from '../../files/path-rules.js';
import { checkBounds, EggError, type EggPath } from './parse.js';

/**
 * Config files to rewrite before every start (PROTOCOL.md §4.6), from an egg's `config.files`
 * (`{path: {parser, find}}`, an object or a JSON string) or the payload's own `configFiles` (that map, or the
 * spec's array form). Only parsed and checked here; src/files/config-files/ rewrites them. The path goes through
 * the sandbox's path rules now, so a file outside the server directory is refused at create, not at start.
 */

/** The rewriters' own parser list and rule shape (files/config-files/rules.ts): what is accepted is what can run. */
export type ConfigFileSpec = ConfigFileRule;

const MAX_FILES = 64;
const MAX_KEYS = 256;
const MAX_KEY_LENGTH = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkPath(raw: unknown, path: EggPath): string {
  let segments: string[];
  try {
    segments = toSegments(raw, 'path');
  } catch (err) {
    throw new EggError(path, (err as Error).message.replace(/^path: /, ''));
  }
  if (segments.length === 0) throw new EggError(path, 'names the server directory itself, not a file');
  return segments.join('/');
}

function checkFind(find: unknown, parser: ConfigParser, path: EggPath): Record<string, unknown> {
  if (find === undefined || find === null) return {};
  if (!isRecord(find)) throw new EggError(path, 'must be an object of key → value');
  const keys = Object.keys(find);
  if (keys.length > MAX_KEYS) throw new EggError(path, `more than ${MAX_KEYS} keys`);
  for (const key of keys) {
    const where = [...path, key.slice(0, 100)];
    if (key.length > MAX_KEY_LENGTH) throw new EggError(where, `key longer than ${MAX_KEY_LENGTH} characters`);
    if (CONTROL.test(key)) throw new EggError(where, 'key contains a control character');
    // A dotted path with an empty or `..` step names nothing the rewriter can reach; `file` keys are line prefixes.
    if (parser !== 'file' && key !== '' && key.split('.').some((step) => step === '')) {
      throw new EggError(where, 'key is a dotted path with an empty step (such as "..")');
    }
  }
  return find;
}

function checkEntry(path: unknown, entry: unknown, where: EggPath): ConfigFileSpec {
  if (!isRecord(entry)) throw new EggError(where, 'must be an object {parser, find}');
  const parser = entry.parser;
  if (typeof parser !== 'string' || !(CONFIG_PARSERS as readonly string[]).includes(parser)) {
    throw new EggError([...where, 'parser'], `must be one of ${CONFIG_PARSERS.join(', ')}`);
  }
  return {
    path: checkPath(path, where),
    parser: parser as ConfigParser,
    find: checkFind(entry.find, parser as ConfigParser, [...where, 'find']),
  };
}

/** Throws EggError naming the entry at fault (`path` is the field's own path, e.g. ['egg','config','files']). */
export function parseConfigFiles(input: unknown, path: EggPath): ConfigFileSpec[] {
  if (input === undefined || input === null) return [];
  checkBounds(input, path);
  const out: ConfigFileSpec[] = [];
  if (Array.isArray(input)) {
    if (input.length > MAX_FILES) throw new EggError(path, `more than ${MAX_FILES} files`);
    for (const [i, entry] of input.entries())
      out.push(checkEntry(isRecord(entry) ? entry.path : undefined, entry, [...path, i]));
  } else if (isRecord(input)) {
    const entries = Object.entries(input);
    if (entries.length > MAX_FILES) throw new EggError(path, `more than ${MAX_FILES} files`);
    for (const [file, entry] of entries) out.push(checkEntry(file, entry, [...path, file.slice(0, 200)]));
  } else {
    throw new EggError(path, 'must be an object {path: {parser, find}} or an array of {path, parser, find}');
  }
  const seen = new Set<string>();
  for (const file of out) {
    if (seen.has(file.path)) throw new EggError(path, `names ${file.path} twice`);
    seen.add(file.path);
  }
  return out;
}

/** The payload's `configFiles` field (the egg step fills it from `config.files` when absent). */
export const configFilesSchema = z.unknown().transform((value, ctx): ConfigFileSpec[] => {
  try {
    return parseConfigFiles(value, []);
  } catch (err) {
    if (!(err instanceof EggError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message, path: err.path });
    return z.NEVER;
  }
});
