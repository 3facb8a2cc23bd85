import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type AgentConfig, configSchema } from './schema.js';
import {
  type ConfigSource,
  describeSource,
  envLayer,
  getPath,
  type Layer,
  SourceError,
  setPath,
  sourcesForIssue,
  sourcesOf,
  type Tree,
} from './sources.js';

export const DEFAULT_CONFIG_PATH = '/etc/ctrl-alt-play-agent/config.yml';

/** Command-line flags (commander's camelCase names) and the config keys they set. */
export const FLAG_KEYS: Record<string, string> = {
  port: 'port',
  host: 'host',
  nodeId: 'nodeId',
  dataDir: 'dataDir',
  panelUrl: 'panel.url',
  logLevel: 'logLevel',
  dockerHost: 'docker.host',
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Explicit --config path: must exist. Without it the default path is read when present. */
  configPath?: string | undefined;
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  isRoot?: boolean;
  hostName?: string;
}

function isPlainObject(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Later sources win; nested objects merge key by key. */
export function mergeSources(...sources: Tree[]): Tree {
  const out: Tree = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      if (value === undefined) continue;
      out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeSources(out[key] as Tree, value) : value;
    }
  }
  return out;
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`config file ${file}: ${(err as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`config file ${file}: not valid YAML: ${(err as Error).message}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) throw new ConfigError([`config file ${file}: must be a mapping of keys to values`]);
  return withoutNulls(parsed);
}

/** A YAML key with nothing after it (a section whose keys are all commented out) means "not set". */
function withoutNulls(tree: Tree): Tree {
  const out: Tree = {};
  for (const [key, value] of Object.entries(tree)) {
    if (value === null) continue;
    out[key] = isPlainObject(value) ? withoutNulls(value) : value;
  }
  return out;
}

function flagLayer(flags: Record<string, unknown>): Layer {
  const tree: Tree = {};
  const names = new Map<string, string>();
  for (const [name, key] of Object.entries(FLAG_KEYS)) {
    const value = flags[name];
    if (value === undefined || value === '') continue;
    setPath(tree, key, value);
    names.set(key, `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }
  return {
    tree,
    sourceOf: (p) => {
      const name = names.get(p);
      return name ? { kind: 'flag', name } : { kind: 'default' };
    },
  };
}

export interface LoadedConfig {
  config: AgentConfig;
  /** The config file that was read, if any. */
  file: string | undefined;
  /** Where each key's value came from (every key of the schema, by dotted path). */
  sources: Record<string, ConfigSource>;
}

/** "port: Too big … (set by env AGENT_PORT)": the operator learns which variable or file to fix. */
function describeIssue(issue: z.core.$ZodIssue, sources: Record<string, ConfigSource>, file: string | undefined) {
  const where = issue.path.join('.') || '(root)';
  const from =
    issue.code === 'unrecognized_keys'
      ? file
        ? [`file ${file}`]
        : []
      : sourcesForIssue(issue.path, sources).map(describeSource);
  return `${where}: ${issue.message}${from.length > 0 ? ` (set by ${from.join(', ')})` : ''}`;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const file = options.configPath ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);

  const defaults: Tree = {
    nodeId: options.hostName ?? hostname(),
    dataDir: isRoot ? '/var/lib/ctrl-alt-play-agent' : './data',
  };
  let envValues: Layer;
  try {
    envValues = envLayer(env);
  } catch (err) {
    if (err instanceof SourceError) throw new ConfigError(err.message.split('\n'));
    throw err;
  }
  const fileTree = file ? readConfigFile(file) : {};
  const layers: Layer[] = [
    { tree: defaults, sourceOf: () => ({ kind: 'default' }) },
    { tree: fileTree, sourceOf: () => (file ? { kind: 'file', file } : { kind: 'default' }) },
    envValues,
    flagLayer(options.flags ?? {}),
  ];
  const sources = sourcesOf(layers);
  const merged = mergeSources(...layers.map((l) => l.tree));

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => describeIssue(issue, sources, file)));
  }
  const config = { ...result.data, dataDir: path.resolve(cwd, result.data.dataDir) };
  return { config: deepFreeze(config), file, sources };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const REDACTED = '[redacted]';

/** The effective config for display: secrets replaced (the token, the panel's API token, registry passwords). */
export function redactConfig(config: AgentConfig): Record<string, unknown> {
  const registries = Object.fromEntries(
    Object.entries(config.docker.registries).map(([host, r]) => [
      host,
      { ...r, password: r.password ? REDACTED : undefined },
    ]),
  );
  return {
    ...config,
    token: config.token ? REDACTED : undefined,
    panel: { ...config.panel, apiToken: config.panel.apiToken ? REDACTED : undefined },
    docker: { ...config.docker, registries },
  };
}

/** The secret values in a config, for a last pass over any text shown to someone (diagnostics). */
export function secretValues(config: AgentConfig): string[] {
  return [
    config.token,
    config.panel.apiToken,
    ...Object.values(config.docker.registries).map((r) => r.password),
  ].filter((v): v is string => typeof v === 'string' && v.length > 0);
}

/** Every key with its effective value (secrets redacted) and where it came from. */
export function configRows(config: AgentConfig, sources: Record<string, ConfigSource>) {
  const shown = redactConfig(config);
  return Object.entries(sources).map(([key, source]) => ({
    key,
    value: getPath(shown, key.split('.')),
    source: describeSource(source),
  }));
}

/** `key: value  # source`, one line per key, secrets redacted. */
export function formatSources(config: AgentConfig, sources: Record<string, ConfigSource>): string {
  const rows = configRows(config, sources).map(
    ({ key, value, source }) => [`${key}: ${value === undefined ? '~' : JSON.stringify(value)}`, source] as const,
  );
  const width = Math.min(60, Math.max(...rows.map(([left]) => left.length)));
  return rows.map(([left, right]) => `${left.padEnd(width)}  # ${right}\n`).join('');
}
