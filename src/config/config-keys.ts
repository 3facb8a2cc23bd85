import type { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * Every settable key of the schema, found by walking it, with the environment variable derived from its path.
 * Derived rather than listed so a key added to the schema has its variable at once and the table cannot drift.
 */
export type KeyKind = 'scalar' | 'list' | 'map';

export interface ConfigKey {
  /** Dotted path in the config tree: `files.readMaxBytes`. */
  path: string;
  /** `AGENT_FILES_READ_MAX_BYTES`; `<env>_FILE` names a file holding the value. */
  env: string;
  /** How an environment value is read: as it is, as a list (JSON array or comma-separated), as a JSON object. */
  kind: KeyKind;
}

/** The variables that predate the derived names and keep working; the derived name wins when both are set. */
export const LEGACY_ENV: Readonly<Record<string, string>> = {
  PANEL_URL: 'panel.url',
  LOG_LEVEL: 'logLevel',
  DOCKER_HOST: 'docker.host',
};

/** camelCase path segments to UPPER_SNAKE, joined by `_`, under the `AGENT_` prefix. */
export function envNameFor(path: string): string {
  const words = path.split('.').map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());
  return `AGENT_${words.join('_')}`;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Past the wrappers that do not change what a value is (defaults, optionality, transforms). */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType && ['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(def.type)) {
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

function walk(schema: z.ZodType, prefix: string, out: ConfigKey[]): void {
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object' && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) walk(child, prefix ? `${prefix}.${key}` : key, out);
    return;
  }
  const kind: KeyKind = def.type === 'array' ? 'list' : def.type === 'record' ? 'map' : 'scalar';
  out.push({ path: prefix, env: envNameFor(prefix), kind });
}

export function configKeysOf(schema: z.ZodType): ConfigKey[] {
  const out: ConfigKey[] = [];
  walk(schema, '', out);
  return out;
}

/** The agent's keys, computed once (the schema does not change at run time). */
export const CONFIG_KEYS: readonly ConfigKey[] = Object.freeze(configKeysOf(configSchema));
