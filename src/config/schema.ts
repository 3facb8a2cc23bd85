import { z } from 'zod';
import { httpSchema, tlsSchema, wsSchema } from './api-schema.js';
import { dockerSchema } from './docker-schema.js';
import { filesSchema } from './files-schema.js';
import { LOG_LEVELS, logSchema } from './log-schema.js';
import { metricsSchema } from './metrics-schema.js';
import { modsSchema, steamSchema } from './mods-schema.js';
import { panelSchema } from './panel-schema.js';
import { bool, port, positiveInt } from './schema-values.js';
import { allocationsSchema, serversSchema } from './servers-schema.js';

/**
 * The configuration schema is the type: nothing declares the shape beside it. Every value is parsed once at
 * start-up (file < environment < flags, see load.ts) and the result is frozen. Units are in the names.
 * Each section lives beside the others in a module named after the area of src that reads it (api-schema.ts,
 * servers-schema.ts, …); this file composes them in the order `config print` shows, and its keys (walked by
 * config-keys.ts) name the environment variables.
 */

export { LOG_LEVELS };

export const configSchema = z.strictObject({
  /** Bearer token the panel sends (the node's daemon token). Generated and persisted when absent. */
  token: z.string().min(1, 'must not be empty').optional(),
  host: z.string().min(1).default('0.0.0.0'),
  port: port.default(8081),
  /** The panel's node uuid; reported as `nodeId`. Defaults to the host name (load.ts). */
  nodeId: z.string().min(1).max(128),
  dataDir: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  log: logSchema,
  tls: tlsSchema,
  http: httpSchema,
  panel: panelSchema,
  docker: dockerSchema,
  servers: serversSchema,
  allocations: allocationsSchema,
  files: filesSchema,
  mods: modsSchema,
  steam: steamSchema,
  ws: wsSchema,
  metrics: metricsSchema,
  shutdown: z
    .strictObject({
      /** Stop every game server gracefully on SIGTERM instead of leaving them running. */
      stopServers: bool.default(false),
      /** In-flight requests get this long to finish after SIGTERM. */
      graceMs: positiveInt.default(10_000),
    })
    .prefault({}),
});

export type AgentConfig = Readonly<z.infer<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;
