import vm from 'node:vm';
import { EggError } from './parse.js';

/**
 * The validation rules of egg variables (PROTOCOL.md §4.6), with Laravel's semantics, since the panel that wrote
 * the egg validates with Laravel: a rule other than `required`/`present` is skipped for an absent or blank value;
 * `min`/`max`/`between` measure a number when the variable also has `numeric` or `integer` and the value is
 * numeric, else the length in characters. Environment values are strings here, so `string` always holds and
 * `boolean` accepts "0", "1", "true" and "false" (the last two are what JSON `true`/`false` become).
 * Rules the agent does not know are ignored with a warning (eggs carry a few others: `digits_between`, `int`).
 */

export type Rule =
  | { kind: 'required' | 'present' | 'nullable' | 'string' | 'integer' | 'numeric' | 'boolean' }
  | { kind: 'alpha' | 'alpha_dash' | 'alpha_num' | 'url' }
  | { kind: 'in'; values: string[] }
  | { kind: 'min' | 'max'; n: number }
  | { kind: 'between' | 'digits_between'; low: number; high: number }
  | { kind: 'digits'; n: number }
  | { kind: 'regex'; regex: RegExp };

export interface CompiledRules {
  rules: Array<{ text: string; rule: Rule }>;
  /** Rules ignored because the agent does not implement them. */
  unknown: string[];
}

const MAX_RULES = 64;
/** Rules that do nothing to a string value (`sometimes`/`bail` steer Laravel's loop, not the value). */
const NO_OPS = new Set(['nullable', 'string', 'sometimes', 'bail']);

/**
 * Splits a Laravel rule string on `|`. A regex may contain `|` itself (Laravel would split it and fail), so a
 * `regex:` piece whose pattern is not closed yet takes the following pieces back.
 */
export function splitRules(rules: string | string[] | undefined): string[] {
  if (rules === undefined) return [];
  if (Array.isArray(rules)) return rules.map((r) => r.trim()).filter((r) => r !== '');
  const pieces = rules.split('|');
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i += 1) {
    let piece = pieces[i] as string;
    if (/^\s*regex:/i.test(piece)) {
      while (splitDelimited(piece.trim().slice('regex:'.length)) === undefined && i + 1 < pieces.length) {
        i += 1;
        piece = `${piece}|${pieces[i]}`;
      }
    }
    piece = piece.trim();
    if (piece !== '') out.push(piece);
  }
  return out;
}

const BRACKETS: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };

/** PHP's preg delimiters: `/…/flags`, any non-alphanumeric, or a bracket pair. Undefined when unclosed. */
export function splitDelimited(text: string): { pattern: string; flags: string } | undefined {
  const open = text[0];
  if (open === undefined || /[A-Za-z0-9\\\s]/.test(open)) return undefined;
  const close = BRACKETS[open] ?? open;
  let depth = 0;
  for (let i = 1; i < text.length; i += 1) {
    const c = text[i];
    if (c === '\\') {
      i += 1;
      continue;
    }
    if (close !== open && c === open) depth += 1;
    else if (c === close) {
      if (depth === 0) return { pattern: text.slice(1, i), flags: text.slice(i + 1) };
      depth -= 1;
    }
  }
  return undefined;
}

/** PCRE flags → JS: i, m, s, u map; D (JS `$` is already end-only), S, X and J change nothing here. */
function compileRegex(text: string): RegExp {
  const parts = splitDelimited(text);
  if (!parts) throw new Error('the pattern needs delimiters, as in regex:/^[a-z]+$/');
  let flags = '';
  for (const f of parts.flags.trim()) {
    if ('imsu'.includes(f)) flags += flags.includes(f) ? '' : f;
    else if (!'DSXJ'.includes(f)) throw new Error(`unsupported regex flag "${f}"`);
  }
  try {
    return new RegExp(parts.pattern, flags);
  } catch (err) {
    // PCRE accepts escapes under /u that JS's unicode mode refuses (`\-` outside a class); try without it.
    if (flags.includes('u')) return new RegExp(parts.pattern, flags.replace('u', ''));
    throw err;
  }
}

function number(text: string | undefined, rule: string): number {
  if (text === undefined || !/^\s*-?\d+(\.\d+)?\s*$/.test(text)) throw new Error(`${rule} needs a number`);
  return Number(text);
}

/** Laravel parses rule parameters as CSV (str_getcsv): `in:a,"b,c"` is two values, `""` a quote inside quotes. */
export function csv(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (quoted) {
      if (c !== '"') current += c;
      else if (text[i + 1] === '"') {
        current += '"';
        i += 1;
      } else quoted = false;
    } else if (c === '"' && current === '') quoted = true;
    else if (c === ',') {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

function compileRule(text: string): Rule | undefined {
  const colon = text.indexOf(':');
  const name = (colon === -1 ? text : text.slice(0, colon)).trim().toLowerCase();
  const arg = colon === -1 ? undefined : text.slice(colon + 1);
  switch (name) {
    case 'required':
    case 'present':
    case 'integer':
    case 'numeric':
    case 'boolean':
    case 'alpha':
    case 'alpha_dash':
    case 'alpha_num':
    case 'url':
      return { kind: name };
    case 'in':
      if (arg === undefined) throw new Error('in needs values');
      return { kind: 'in', values: csv(arg) };
    case 'min':
    case 'max':
      return { kind: name, n: number(arg, name) };
    case 'digits':
      return { kind: 'digits', n: number(arg, name) };
    case 'between':
    case 'digits_between': {
      const [low, high, ...rest] = (arg ?? '').split(',');
      if (rest.length > 0) throw new Error(`${name} needs two numbers`);
      return { kind: name, low: number(low, name), high: number(high, name) };
    }
    case 'regex':
      if (arg === undefined) throw new Error('regex needs a pattern');
      return { kind: 'regex', regex: compileRegex(arg.trim()) };
    default:
      return NO_OPS.has(name) ? { kind: 'nullable' } : undefined;
  }
}

/** Compiles a variable's rules; a malformed one (bad regex, `max:x`) throws EggError at `path`. */
export function compileRules(rules: string | string[] | undefined, path: (string | number)[]): CompiledRules {
  const texts = splitRules(rules);
  if (texts.length > MAX_RULES) throw new EggError(path, `more than ${MAX_RULES} rules`);
  const out: CompiledRules = { rules: [], unknown: [] };
  for (const text of texts) {
    let rule: Rule | undefined;
    try {
      rule = compileRule(text);
    } catch (err) {
      throw new EggError(path, `malformed rule "${text.slice(0, 200)}": ${(err as Error).message}`);
    }
    if (rule) out.rules.push({ text, rule });
    else out.unknown.push(text);
  }
  return out;
}

/**
 * Runs a regex test under a time budget. The pattern is the egg's and the value the user's (panel users edit
 * their variables), and a pattern such as `^(a+)+$` backtracks exponentially: 30 characters already take
 * seconds, so bounding the value's length cannot make it safe; a budget can. V8 checks for interrupts while it
 * backtracks, so vm's timeout stops the match. One context per tester, created on the first regex.
 */
export function createRegexTester(budgetMs = 100): (regex: RegExp, value: string) => boolean {
  let context: vm.Context | undefined;
  const script = new vm.Script('regex.test(value)');
  return (regex, value) => {
    context ??= vm.createContext({});
    context.regex = regex;
    context.value = value;
    regex.lastIndex = 0;
    try {
      return script.runInContext(context, { timeout: budgetMs }) === true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        throw new Error(`the regex took longer than ${budgetMs} ms on this value (catastrophic backtracking)`);
      }
      throw err;
    } finally {
      context.regex = undefined;
      context.value = undefined;
    }
  };
}

const INTEGER = /^\s*[+-]?(0|[1-9]\d*)\s*$/;
const NUMERIC = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;
const INT64_MAX = 2n ** 63n - 1n;

/** PHP's FILTER_VALIDATE_INT: no leading zeros, within 64 bits. */
function isInteger(value: string): boolean {
  if (!INTEGER.test(value)) return false;
  const n = BigInt(value.trim());
  return n <= INT64_MAX && n >= -INT64_MAX - 1n;
}

function isUrl(value: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(value)) return false;
  try {
    return new URL(value).host !== '';
  } catch {
    return false;
  }
}

/** Returns the first rule `value` breaks (its text), or undefined. `value` undefined: the variable is unset. */
export function brokenRule(
  value: string | undefined,
  compiled: CompiledRules,
  testRegex: (regex: RegExp, value: string) => boolean,
): string | undefined {
  const kinds = new Set(compiled.rules.map((r) => r.rule.kind));
  const blank = value === undefined || value.trim() === '';
  const numericContext = (kinds.has('numeric') || kinds.has('integer')) && value !== undefined && NUMERIC.test(value);
  const size = (v: string) => (numericContext ? Number(v) : [...v].length);
  for (const { text, rule } of compiled.rules) {
    if (rule.kind === 'required' && blank) return text;
    if (rule.kind === 'present' && value === undefined) return text;
    if (blank) continue;
    const v = value as string;
    let ok = true;
    switch (rule.kind) {
      case 'integer':
        ok = isInteger(v);
        break;
      case 'numeric':
        ok = NUMERIC.test(v);
        break;
      case 'boolean':
        ok = ['0', '1', 'true', 'false'].includes(v);
        break;
      case 'alpha':
        ok = /^[\p{L}\p{M}]+$/u.test(v);
        break;
      case 'alpha_dash':
        ok = /^[\p{L}\p{M}\p{N}_-]+$/u.test(v);
        break;
      case 'alpha_num':
        ok = /^[\p{L}\p{M}\p{N}]+$/u.test(v);
        break;
      case 'url':
        ok = isUrl(v);
        break;
      case 'in':
        ok = rule.values.includes(v);
        break;
      case 'min':
        ok = size(v) >= rule.n;
        break;
      case 'max':
        ok = size(v) <= rule.n;
        break;
      case 'between':
        ok = size(v) >= rule.low && size(v) <= rule.high;
        break;
      case 'digits':
        ok = /^\d+$/.test(v) && v.length === rule.n;
        break;
      case 'digits_between':
        ok = /^\d+$/.test(v) && v.length >= rule.low && v.length <= rule.high;
        break;
      case 'regex':
        ok = testRegex(rule.regex, v);
        break;
      default:
        break;
    }
    if (!ok) return text;
  }
  return undefined;
}
