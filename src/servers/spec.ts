import { z } from 'zod';
import { boolish, integer } from '../protocol/fields.js';
import type { ConfigFileSpec } from './egg/config-files.js';
import { configFilesSchema } from './egg/config-files.js';
import type { EggInfo } from './egg/resolve.js';
import { eggInfoSchema, eggWarningsSchema, withEgg } from './egg/resolve.js';
import type { StopSignal } from './egg/stop.js';
import { STOP_SIGNALS } from './egg/stop.js';
import { ENV_KEY, IMAGE_REF } from './spec-patterns.js';

/**
 * The persisted description of a server, parsed from `create_server` (PROTOCOL.md §4.1). Limits are stored in
 * the panel's units (MB, % of one core) and mapped to Docker by container-options.ts.
 */

const nonNegative = (name: string) => integer.refine((n) => n >= 0, `${name} must not be negative`);

export const limitsSchema = z.object({
  memory: nonNegative('memory').default(0),
  disk: nonNegative('disk').default(0),
  cpu: nonNegative('cpu').default(0),
  swap: integer.refine((n) => n >= -1, 'swap must be -1 (unlimited) or at least 0').default(0),
  io: nonNegative('io').default(500),
});
export type Limits = z.infer<typeof limitsSchema>;

const portSchema = z.object({
  ip: z.string().min(1).max(64).optional(),
  port: integer.refine((n) => n >= 1 && n <= 65535, 'port must be 1-65535'),
  internal: integer.refine((n) => n >= 1 && n <= 65535, 'internal must be 1-65535').optional(),
  protocol: z.enum(['both', 'tcp', 'udp']).default('both'),
});
export type PortBinding = Required<Omit<z.infer<typeof portSchema>, 'ip'>> & { ip: string | undefined };

const environmentValue = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: 'environment values must be strings, numbers, booleans or null',
});

/** `environment` is an object or a JSON string of one; scalars are stringified and null drops the key. */
export const environmentSchema = z
  .preprocess(
    (value) => {
      if (typeof value !== 'string') return value;
      if (value.trim() === '') return {};
      try {
        return JSON.parse(value);
      } catch {
        return value; // fails the record check below with a clear message
      }
    },
    z.record(z.string(), environmentValue, { error: 'environment must be an object or a JSON string of one' }),
  )
  .superRefine((env, ctx) => {
    for (const key of Object.keys(env)) {
      if (!ENV_KEY.test(key))
        ctx.addIssue({ code: 'custom', message: `invalid environment key "${key}"`, path: [key] });
    }
  })
  .transform((env) => {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(env)) if (value !== null) out[key] = String(value);
    return out;
  });

/**
 * `type` is checked here only for shape: the query library's list of games is only known once the library is
 * loaded, and loading it (several MB) to validate a create would tax agents that never query. An id the library
 * does not know fails at the first query, visibly, in get_server_status (`query.error`, `lastError`).
 */
const QUERY_TYPE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const querySchema = z.object({
  type: z
    .string()
    .regex(QUERY_TYPE, 'query.type must be a game or protocol id such as "minecraft" or "protocol-valve"'),
  port: integer.refine((n) => n >= 1 && n <= 65535, 'query.port must be 1-65535').optional(),
  intervalSeconds: integer
    .refine((n) => n >= 5 && n <= 3600, 'query.intervalSeconds must be from 5 to 3600')
    .default(30),
});
export type QuerySpec = z.infer<typeof querySchema>;

/** The create_server fields; `createServerPayload` parses them after folding in an `egg` (egg/resolve.ts). */
export const createServerFields = z.object({
  name: z.string().max(200).optional(),
  image: z.string().max(512).regex(IMAGE_REF, 'image must be a valid Docker image reference'),
  startup: z.string().max(16_384).default(''),
  environment: environmentSchema.default({}),
  limits: limitsSchema.prefault({}),
  skipScripts: boolish.default(false),
  ports: z.array(portSchema).max(64).optional(),
  allocations: z.array(portSchema).max(64).optional(),
  install: z
    .object({
      script: z.string().max(1024 * 1024),
      container: z.string().max(512).regex(IMAGE_REF, 'install.container must be a valid image reference').optional(),
      entrypoint: z.string().max(256).default('/bin/sh'),
    })
    .optional(),
  stopCommand: z.string().min(1).max(4096).optional(),
  /** X: the signal that stops the game, before stop_server's own (an egg's `^C` is SIGINT; power.ts). */
  stopSignal: z.enum(STOP_SIGNALS).optional(),
  startupDone: z
    .string()
    .max(1024)
    .refine((s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    }, 'startupDone must be a valid regular expression')
    .optional(),
  startOnCompletion: boolish.default(false),
  /** X: glob patterns (root-relative) no file action may touch on this server, besides the node's `files.denylist`. */
  denylist: z.array(z.string().min(1).max(256)).max(100).optional(),
  /** X: per-server crash policy; absent means the node's `servers.autoRestart`. */
  restartPolicy: z.enum(['off', 'on_crash']).optional(),
  /** X: game query (PROTOCOL.md §4.6 "Game queries"); metrics/game-queries.ts runs it. */
  query: querySchema.optional(),
  /** X: config files rewritten before every start (egg `config.files`; src/files/config-files/ rewrites them). */
  configFiles: configFilesSchema.optional(),
  /** Set by the egg step: what the spec keeps of the egg, and the warnings create_server replies with. */
  eggInfo: eggInfoSchema.optional(),
  eggWarnings: eggWarningsSchema.optional(),
});
/** create_server's payload, `egg` included: update_server gets the egg by parsing through this too. */
export const createServerPayload = withEgg(createServerFields);
export type CreateServerPayload = z.infer<typeof createServerPayload>;

export interface ServerSpec {
  id: string;
  name: string;
  image: string;
  /** The raw template as the panel sent it. */
  startupTemplate: string;
  /** The user's environment, as received (stringified). */
  environment: Record<string, string>;
  limits: Limits;
  ports: PortBinding[];
  /** Set when `ports` holds the one port given from `allocations.pool` (port-pool.ts), not the panel's. */
  portFromPool?: boolean | undefined;
  install: { script: string; container: string | undefined; entrypoint: string } | undefined;
  skipScripts: boolean;
  stopCommand: string | undefined;
  /** Sent first by the stop ladder when set (an egg's `^C` → SIGINT); stop_server's signal is the next rung. */
  stopSignal?: StopSignal | undefined;
  startupDone: string | undefined;
  restartPolicy?: 'off' | 'on_crash' | undefined;
  denylist?: string[] | undefined;
  /** Console history in lines, set by console:settings:update; kept across restarts and re-creates. */
  consoleBufferLines?: number | undefined;
  /** Game query settings; absent means the server is never queried. */
  query?: QuerySpec | undefined;
  /** Config files to rewrite before every start (PROTOCOL.md §4.6); paths are root-relative, normalised. */
  configFiles?: ConfigFileSpec[] | undefined;
  /** What the spec keeps of the egg it was created from (features, name, author, description, version). */
  eggInfo?: EggInfo | undefined;
  createdAt: string;
  updatedAt: string;
}

export function specFromPayload(
  id: string,
  payload: CreateServerPayload,
  now: Date,
  previous?: ServerSpec,
): ServerSpec {
  const ports = (payload.ports ?? payload.allocations ?? []).map((p) => ({
    ip: p.ip,
    port: p.port,
    internal: p.internal ?? p.port,
    protocol: p.protocol,
  }));
  return {
    id,
    name: payload.name ?? previous?.name ?? id,
    image: payload.image,
    startupTemplate: payload.startup,
    environment: payload.environment,
    limits: payload.limits,
    ports,
    install: payload.install
      ? { script: payload.install.script, container: payload.install.container, entrypoint: payload.install.entrypoint }
      : undefined,
    skipScripts: payload.skipScripts,
    stopCommand: payload.stopCommand,
    startupDone: payload.startupDone,
    restartPolicy: payload.restartPolicy,
    denylist: payload.denylist,
    query: payload.query,
    stopSignal: payload.stopSignal,
    configFiles: payload.configFiles,
    eggInfo: payload.eggInfo,
    consoleBufferLines: previous?.consoleBufferLines,
    createdAt: previous?.createdAt ?? now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

export interface ResolvedStartup {
  /** The environment the container gets: user values plus the agent's defaults. */
  environment: Record<string, string>;
  startup: string;
  unresolved: string[];
  ports: PortBinding[];
  warnings: string[];
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;

/** Replaces each {{NAME}} from the environment; unknown names stay in place and are reported. */
export function substitute(template: string, env: Record<string, string>): { result: string; unresolved: string[] } {
  const unresolved = new Set<string>();
  const result = template.replace(PLACEHOLDER, (whole, rawName: string) => {
    // Pterodactyl eggs write {{server.build.default.port}} style names too (PROTOCOL.md §4.6). Only these map:
    // any other dotted name ({{config.token}}) matches no environment key and stays unresolved.
    const name = LEGACY_PLACEHOLDERS[rawName] ?? rawName.replace(ENV_PLACEHOLDER, '');
    const value = env[name];
    if (value === undefined) {
      unresolved.add(rawName);
      return whole;
    }
    return value;
  });
  return { result, unresolved: [...unresolved] };
}

const LEGACY_PLACEHOLDERS: Record<string, string> = {
  'server.build.default.port': 'SERVER_PORT',
  'server.build.default.ip': 'SERVER_IP',
  'server.build.memory': 'SERVER_MEMORY',
};
/** `{{env.NAME}}` and `{{server.build.env.NAME}}` are `{{NAME}}`. */
const ENV_PLACEHOLDER = /^(?:server\.build\.env|env)\.(?=[A-Za-z_][A-Za-z0-9_]*$)/;

/**
 * Merges the agent's defaults under the user's environment, picks the ports (payload ports, else a numeric
 * SERVER_PORT, else none with a warning) and substitutes the startup template (PROTOCOL.md §4.1).
 */
export function resolveStartup(spec: ServerSpec, defaults: { ip: string; timezone: string }): ResolvedStartup {
  const warnings: string[] = [];
  let ports = spec.ports;
  const userPort = spec.environment.SERVER_PORT;
  if (ports.length === 0 && userPort !== undefined && /^\d+$/.test(userPort)) {
    const port = Number(userPort);
    if (port >= 1 && port <= 65535) ports = [{ ip: undefined, port, internal: port, protocol: 'both' }];
  }
  if (ports.length === 0) warnings.push('no ports published');
  const first = ports[0];
  const environment: Record<string, string> = {
    SERVER_MEMORY: String(spec.limits.memory),
    SERVER_IP: first?.ip ?? defaults.ip,
    ...(first ? { SERVER_PORT: String(first.internal) } : {}),
    TZ: defaults.timezone,
    ...spec.environment,
  };
  const { result, unresolved } = substitute(spec.startupTemplate, environment);
  environment.STARTUP = result;
  if (unresolved.length > 0) warnings.push(`unresolved placeholders: ${unresolved.join(', ')}`);
  return { environment, startup: result, unresolved, ports, warnings };
}
