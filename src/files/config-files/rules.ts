/**
 * What a config-file rule asks for (PROTOCOL.md §4.6), independent of the file format: the `find` map of an egg's
 * `config.files` entry turned into replacements, and the typing of the value written. The semantics follow
 * Pelican Wings' parser package, which eggs are written against:
 *  - a literal keeps its JSON type (a number stays a number, `true` a boolean);
 *  - a string (a template, once resolved) takes the type of the value it replaces when it can: "25565" over a
 *    number is a number, "false" over a boolean a boolean (Go's ParseBool spellings); a new key gets a string;
 *  - the object forms: `{find, replace}`, Wings' own `{match?, replace_with | value, if_value?}`, and the egg form
 *    `{"<current value>": "<replacement>", …}` (the panel's if_value map), where a current value prefixed
 *    `regex:` is a regular expression and the replacement may use `$1`…; such a rule only changes a key that
 *    exists and matches.
 */

export type Scalar = string | number | bigint | boolean | null;

export const CONFIG_PARSERS = ['properties', 'ini', 'json', 'yaml', 'yml', 'xml', 'toml', 'file'] as const;
export type ConfigParser = (typeof CONFIG_PARSERS)[number];

export interface ConfigFileRule {
  path: string;
  parser: ConfigParser;
  find: Record<string, unknown>;
}

/** Turns a template or literal into what the file gets (template-resolver.ts); literals pass through. */
export type Resolve = (value: unknown) => unknown;

/** A pure rewriter: the current text (undefined when the file is missing) → the new text. Throws when unparsable. */
export type Rewriter = (text: string | undefined, find: Record<string, unknown>, resolve: Resolve) => Promise<string>;

export interface Replacement {
  path: string;
  value: Scalar;
  /** Only replace a current value equal to this (or matching it, with a `regex:` prefix). */
  ifValue?: string;
}

/** Paths, rules per file and the length of a value a `regex:` condition is run against. */
export const MAX_RULES = 256;
export const MAX_PATH_SEGMENTS = 64;
const MAX_REGEX_SUBJECT = 16 * 1024;

function isScalar(value: unknown): value is Scalar {
  return value === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof value);
}

/** The replacements of one file's `find` map, in order; values that are neither scalars nor a known form are dropped. */
export function replacementsOf(find: Record<string, unknown>): Replacement[] {
  const out: Replacement[] = [];
  for (const [path, raw] of Object.entries(find)) {
    if (out.length >= MAX_RULES) break;
    if (isScalar(raw)) {
      out.push({ path, value: raw });
      continue;
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) continue;
    const form = raw as Record<string, unknown>;
    if ('replace_with' in form || ('value' in form && 'match' in form)) {
      const value = form.replace_with ?? form.value;
      if (!isScalar(value)) continue;
      const at = typeof form.match === 'string' && form.match !== '' ? form.match : path;
      out.push({ path: at, value, ...(form.if_value != null ? { ifValue: String(form.if_value) } : {}) });
    } else if ('find' in form && 'replace' in form && Object.keys(form).length === 2) {
      if (isScalar(form.replace) && isScalar(form.find)) {
        out.push({ path, value: form.replace, ifValue: String(form.find) });
      }
    } else {
      for (const [ifValue, value] of Object.entries(form)) if (isScalar(value)) out.push({ path, value, ifValue });
    }
  }
  return out;
}

/** Go's strconv.ParseBool spellings, which Wings uses to keep a boolean a boolean. */
export function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A numeric literal as a number, or a bigint for an integer a double cannot hold exactly (Discord ids and the like). */
export function parseNumber(text: string, preferBigInt = false): number | bigint | undefined {
  const m = JSON_NUMBER.exec(text);
  if (!m) return undefined;
  const integer = m[1] === undefined && !/[eE]/.test(text);
  if (integer && (preferBigInt || !Number.isSafeInteger(Number(text)))) return BigInt(text);
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The text of a current value, as Wings compares it (`if_value`). */
export function scalarText(value: Scalar): string {
  return value === null ? '' : String(value);
}

/** The resolved value typed after the one it replaces (see the module comment). */
export function coerce(resolved: Scalar, existing: Scalar | undefined): Scalar {
  if (typeof resolved !== 'string' || existing === undefined) return resolved;
  if (typeof existing === 'boolean') return parseBool(resolved) ?? resolved;
  if (typeof existing === 'number' || typeof existing === 'bigint') {
    return parseNumber(resolved, typeof existing === 'bigint') ?? resolved;
  }
  return resolved;
}

function asScalar(value: unknown): Scalar {
  return isScalar(value) ? value : String(value);
}

/**
 * The value to write over `existing` (undefined for a key that does not exist yet), or undefined when the rule
 * does not apply (its condition fails, or it is conditional and the key is missing).
 */
export function nextValue(rule: Replacement, existing: Scalar | undefined, resolve: Resolve): Scalar | undefined {
  const resolved = asScalar(resolve(rule.value));
  if (rule.ifValue === undefined) return coerce(resolved, existing);
  if (existing === undefined) return undefined;
  const current = scalarText(existing);
  if (!rule.ifValue.startsWith('regex:')) return current === rule.ifValue ? coerce(resolved, existing) : undefined;
  if (current.length > MAX_REGEX_SUBJECT) return undefined;
  let pattern: RegExp;
  try {
    pattern = new RegExp(rule.ifValue.slice('regex:'.length), 'g');
  } catch {
    return undefined; // Wings skips a rule with an invalid expression too
  }
  if (!pattern.test(current)) return undefined;
  pattern.lastIndex = 0;
  return coerce(current.replace(pattern, scalarText(resolved)), existing);
}

/**
 * A dotted path as segments: `a.b.c`, with `a[0].b` read as `a.0.b` (eggs write both) and `\.` a literal dot.
 * Throws on a path past MAX_PATH_SEGMENTS.
 */
export function splitPath(path: string): string[] {
  return splitPathWithLists(path).segments;
}

/** The same, and which segments were written as `[N]`: a missing one of those is made a list, not a map. */
export function splitPathWithLists(path: string): { segments: string[]; lists: Set<number> } {
  const normalised = path.replace(/\[(\d+|\*)\]/g, '.\u0000$1');
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < normalised.length; i++) {
    const ch = normalised[i];
    if (ch === '\\' && normalised[i + 1] === '.') {
      current += '.';
      i++;
    } else if (ch === '.') {
      segments.push(current);
      current = '';
    } else current += ch;
  }
  segments.push(current);
  const clean = segments.filter((s, i) => s !== '' || i === 0);
  if (clean.length > MAX_PATH_SEGMENTS) {
    throw new Error(`path ${path.slice(0, 80)} has more than ${MAX_PATH_SEGMENTS} parts`);
  }
  const lists = new Set<number>();
  for (const [i, segment] of clean.entries()) {
    if (segment.startsWith('\u0000')) {
      clean[i] = segment.slice(1);
      lists.add(i);
    }
  }
  return { segments: clean, lists };
}

/** Line-oriented formats hold one line per value: a newline in a value would smuggle in another key. */
export function oneLine(value: Scalar): string {
  return scalarText(value).replace(/[\r\n]+/g, ' ');
}
