import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type AgentConfig, configSchema } from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/ctrl-alt-play-agent/config.yml';

/** Environment variables and the config keys they set. The only place that reads process.env. */
const ENV_KEYS: Record<string, string> = {
  AGENT_TOKEN: 'token',
  AGENT_PORT: 'port',
  AGENT_HOST: 'host',
  AGENT_NODE_ID: 'nodeId',
  AGENT_DATA_DIR: 'dataDir',
  PANEL_URL: 'panel.url',
  LOG_LEVEL: 'logLevel',
  DOCKER_HOST: 'docker.host',
};

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

type Tree = Record<string, unknown>;

function setPath(tree: Tree, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node[key] = next && typeof next === 'object' ? next : {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1] as string] = value;
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

function fromMapping(source: Record<string, unknown>, mapping: Record<string, string>): Tree {
  const tree: Tree = {};
  for (const [name, key] of Object.entries(mapping)) {
    const value = source[name];
    if (value !== undefined && value !== '') setPath(tree, key, value);
  }
  return tree;
}

export interface LoadedConfig {
  config: AgentConfig;
  /** The config file that was read, if any. */
  file: string | undefined;
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
  const merged = mergeSources(
    defaults,
    file ? readConfigFile(file) : {},
    fromMapping(env, ENV_KEYS),
    fromMapping(options.flags ?? {}, FLAG_KEYS),
  );

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const config = { ...result.data, dataDir: path.resolve(cwd, result.data.dataDir) };
  return { config: deepFreeze(config), file };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The effective config for display: secrets replaced. */
export function redactConfig(config: AgentConfig): Record<string, unknown> {
  return {
    ...config,
    token: config.token ? '[redacted]' : undefined,
    panel: { ...config.panel, apiToken: config.panel.apiToken ? '[redacted]' : undefined },
  };
}
