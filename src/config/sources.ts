import { readFileSync } from 'node:fs';
import { CONFIG_KEYS, type ConfigKey, LEGACY_ENV } from './config-keys.js';

/** Where a key's value came from, for `config print --sources`, diagnostics and error messages. */
export type ConfigSource =
  | { kind: 'default' }
  | { kind: 'file'; file: string }
  | { kind: 'env'; name: string }
  | { kind: 'flag'; name: string };

export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `file ${source.file}`;
    case 'env':
      return `env ${source.name}`;
    case 'flag':
      return `flag ${source.name}`;
  }
}

export type Tree = Record<string, unknown>;

/** One source of values: its tree and, per leaf path it sets, where the value came from. */
export interface Layer {
  tree: Tree;
  sourceOf(path: string): ConfigSource;
}

export function getPath(tree: Tree, segments: readonly string[]): unknown {
  let node: unknown = tree;
  for (const key of segments) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Tree)[key];
  }
  return node;
}

export function setPath(tree: Tree, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node[key] = next && typeof next === 'object' ? next : {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** A problem with one variable, before the schema ever sees it. */
export class SourceError extends Error {}

function parseValue(key: ConfigKey, raw: string, name: string): unknown {
  if (key.kind === 'scalar') return raw;
  const text = raw.trim();
  if (key.kind === 'list' && !text.startsWith('[')) {
    return text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SourceError(`${key.path} (env ${name}): not valid JSON: ${(err as Error).message}`);
  }
  return parsed;
}

function readSecretFile(name: string, file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new SourceError(`${key} (env ${name}): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/**
 * The environment layer: for every key, `AGENT_<PATH>`, else `AGENT_<PATH>_FILE` (a file holding the value,
 * trimmed: Docker and systemd credentials), else its legacy name (PANEL_URL, LOG_LEVEL, DOCKER_HOST). Empty
 * values count as unset, as a shell's `VAR=` usually means. Both a variable and its `_FILE` twin is an error:
 * which one wins would be a guess.
 */
export function envLayer(env: NodeJS.ProcessEnv, keys: readonly ConfigKey[] = CONFIG_KEYS): Layer {
  const tree: Tree = {};
  const names = new Map<string, string>();
  const problems: string[] = [];
  const legacyFor = new Map<string, string>();
  for (const [name, path] of Object.entries(LEGACY_ENV)) legacyFor.set(path, name);
  for (const key of keys) {
    const direct = env[key.env];
    const fileName = `${key.env}_FILE`;
    const file = env[fileName];
    try {
      if (direct && file) throw new SourceError(`${key.path}: both ${key.env} and ${fileName} are set; keep one`);
      let name: string | undefined;
      let raw: string | undefined;
      if (direct) [name, raw] = [key.env, direct];
      else if (file) [name, raw] = [fileName, readSecretFile(fileName, file, key.path)];
      else {
        const legacy = legacyFor.get(key.path);
        if (legacy && env[legacy]) [name, raw] = [legacy, env[legacy]];
      }
      if (name === undefined || raw === undefined) continue;
      setPath(tree, key.path, parseValue(key, raw, name));
      names.set(key.path, name);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) throw new SourceError(problems.join('\n'));
  return {
    tree,
    sourceOf: (path) => {
      const name = names.get(path);
      return name ? { kind: 'env', name } : { kind: 'default' };
    },
  };
}

/** Each key's source: the last layer (highest priority) that sets it, else the schema's default. */
export function sourcesOf(layers: readonly Layer[], keys: readonly ConfigKey[] = CONFIG_KEYS) {
  const out: Record<string, ConfigSource> = {};
  for (const key of keys) {
    const segments = key.path.split('.');
    let source: ConfigSource = { kind: 'default' };
    for (const layer of layers) {
      if (getPath(layer.tree, segments) !== undefined) source = layer.sourceOf(key.path);
    }
    out[key.path] = source;
  }
  return out;
}

/**
 * The sources to name in an error at `issuePath`: the key itself when the issue sits at or below a key (an array
 * item), else every non-default key under it (an object-level rule such as tls' certFile/keyFile pairing).
 */
export function sourcesForIssue(
  issuePath: readonly PropertyKey[],
  sources: Readonly<Record<string, ConfigSource>>,
): ConfigSource[] {
  const segments = issuePath.map(String);
  for (let n = segments.length; n > 0; n--) {
    const source = sources[segments.slice(0, n).join('.')];
    if (source) return source.kind === 'default' ? [] : [source];
  }
  const prefix = segments.length > 0 ? `${segments.join('.')}.` : '';
  const seen = new Map<string, ConfigSource>();
  for (const [path, source] of Object.entries(sources)) {
    if (path.startsWith(prefix) && source.kind !== 'default') seen.set(describeSource(source), source);
  }
  return [...seen.values()];
}
