import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ActionDefinition } from '../../commands/dispatcher.js';
import { ERROR_CATALOGUE } from '../../errors.js';

/**
 * The OpenAPI 3.1 document of the HTTP API, with a JSON Schema for every action's payload generated from the same
 * zod schemas the dispatcher validates with (`z.toJSONSchema`), so the document cannot drift from the code. It is
 * served at GET /api/docs and committed as docs/openapi.json (`npm run docs:openapi`; a test fails when stale).
 *
 * Schemas are the *input* side (`io: 'input'`): what a client may send. Preprocessed fields (booleans given as
 * "true", numbers as strings) show their parsed type only; transforms and refinements are documented by their
 * input type, since JSON Schema cannot express them.
 */

/** GET /health (PROTOCOL.md §2.2). The panel reads `status` and `connected`; the rest is for operators. */
export const healthResponse = z.strictObject({
  status: z.literal('healthy').describe('Always "healthy": the panel adopts an agent only on this value.'),
  nodeId: z.string(),
  version: z.string(),
  protocolVersion: z.number().int(),
  uptime: z.number().int().describe('Seconds since the agent started.'),
  connected: z.literal(true).describe('Legacy: "serving", not the panel link.'),
  timestamp: z.string(),
  docker: z.enum(['unknown', 'reachable', 'unreachable']).describe('"unknown" until the first ping settles.'),
  degraded: z
    .array(z.enum(['docker_unreachable', 'panel_link_down']))
    .describe('Why the node works with less than it should; empty when nothing is wrong.'),
});

export const readyResponse = z.union([
  z.strictObject({ ready: z.literal(true) }),
  z.strictObject({ ready: z.literal(false), reason: z.enum(['starting', 'docker_unreachable']) }),
]);

export const statusResponse = z.strictObject({
  online: z.literal(true),
  version: z.string(),
  protocolVersion: z.number().int(),
  uptime: z.number().int(),
  serverCount: z.number().int(),
  lastSeen: z.string(),
  nodeId: z.string(),
  agentId: z.string(),
  docker: z.strictObject({ reachable: z.boolean(), version: z.string().optional() }),
  panelLink: z.enum(['disabled', 'connecting', 'open', 'established']),
});

const errorResponse = z.object({
  success: z.literal(false),
  error: z.string().describe('A human-readable message (a string, as the panel expects).'),
  code: z.enum(Object.keys(ERROR_CATALOGUE) as [string, ...string[]]).describe('Stable error code (§3.2).'),
  id: z.union([z.string(), z.number()]).optional(),
});

const commandReply = z.object({
  success: z.boolean(),
  id: z.union([z.string(), z.number()]).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  message: z.string().optional(),
  error: z.string().optional().describe('Present only when success is false.'),
  code: z.string().optional(),
});

/** OpenAPI component names allow [A-Za-z0-9._-]; action names carry colons (`console:send`). */
export const componentName = (action: string) => action.replace(/[^A-Za-z0-9._-]/g, '.');

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  delete out.$schema; // the document's dialect (OpenAPI 3.1: JSON Schema 2020-12) applies
  return out;
}

const json = (ref: string, description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

export interface OpenApiInput {
  version: string;
  actions: readonly ActionDefinition[];
}

export function buildOpenApiDocument({ version, actions }: OpenApiInput): Record<string, unknown> {
  const { schemas, mapping } = componentSchemas(actions);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Ctrl-Alt-Play Agent HTTP API',
      version,
      description:
        'The node agent of the Ctrl-Alt-Play Panel. Every action goes through POST /api/command; the WebSocket ' +
        'transports (/api/ws and the outbound panel link) carry the same commands. The wire contract is PROTOCOL.md.',
    },
    security: [{ bearer: [] }, { apiKey: [] }],
    paths: { ...statusPaths(), ...commandPaths(mapping), ...filePaths(), ...operatorPaths() },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: "The node's daemon token." },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas,
    },
  };
}

/**
 * The response schemas, then a payload schema and a command schema per action; `mapping` is the discriminator
 * from an action's name to its command schema.
 */
function componentSchemas(actions: readonly ActionDefinition[]) {
  const schemas: Record<string, unknown> = {
    Health: jsonSchema(healthResponse),
    Ready: jsonSchema(readyResponse),
    Status: jsonSchema(statusResponse),
    Error: jsonSchema(errorResponse),
    CommandReply: jsonSchema(commandReply),
  };
  const mapping: Record<string, string> = {};
  for (const action of actions) {
    const name = componentName(action.name);
    schemas[`payload.${name}`] = { ...jsonSchema(action.payload), title: `${action.name} payload` };
    const needsServer = action.scope !== 'node';
    schemas[`command.${name}`] = {
      type: 'object',
      title: action.name,
      description: `scope: ${action.scope}, mode: ${action.mode} (PROTOCOL.md §3, §4).`,
      'x-scope': action.scope,
      'x-mode': action.mode,
      properties: {
        action: { const: action.name },
        serverId: { type: 'string', pattern: SERVER_ID_PATTERN },
        payload: { $ref: `#/components/schemas/payload.${name}` },
        id: { type: ['string', 'number'] },
      },
      required: needsServer ? ['action', 'serverId'] : ['action'],
    };
    mapping[action.name] = `#/components/schemas/command.${name}`;
  }
  return { schemas, mapping };
}

const SERVER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const publicRoute = { security: [] };
const unauthorized = json('Error', 'Missing or wrong node token (AUTH_FAILED), or RATE_LIMITED (429).');

/** The routes a monitor polls: two public probes and the authenticated status. */
function statusPaths() {
  return {
    '/health': {
      get: { ...publicRoute, summary: 'Liveness; always 200', responses: { 200: json('Health', 'Serving.') } },
    },
    '/ready': {
      get: {
        ...publicRoute,
        summary: 'Readiness: Docker answers and boot reconciliation is done',
        responses: { 200: json('Ready', 'Ready.'), 503: json('Ready', 'Not ready, with the reason.') },
      },
    },
    '/api/status': {
      get: { summary: 'Node status', responses: { 200: json('Status', 'Status.'), 401: unauthorized } },
    },
  };
}

/** The two ways in for commands: one per HTTP request (a body per action schema), or a WebSocket. */
function commandPaths(mapping: Record<string, string>) {
  return {
    '/api/command': {
      post: {
        summary: 'Run one action',
        description: 'Every parsed command gets HTTP 200 with success true or false (PROTOCOL.md §2.3).',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                oneOf: Object.values(mapping).map(($ref) => ({ $ref })),
                discriminator: { propertyName: 'action', mapping },
              },
            },
          },
        },
        responses: {
          200: json('CommandReply', 'The action ran, or failed with a catalogue error.'),
          400: json('Error', 'Empty or unparseable body.'),
          401: unauthorized,
          413: json('Error', 'Body over http.bodyLimitBytes.'),
        },
      },
    },
    '/api/ws': {
      get: {
        summary: 'WebSocket upgrade (PROTOCOL.md §6); may authenticate with its first frame instead',
        responses: { 101: { description: 'Switching protocols.' }, 401: unauthorized },
      },
    },
  };
}

/** Streaming file transfer (file-routes.ts), by node token or by a signed URL from get_file_url. */
function filePaths() {
  const serverParam = {
    name: 'id',
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: SERVER_ID_PATTERN },
  };
  const fileQuery = ['path', 'expires', 'signature'].map((name) => ({
    name,
    in: 'query',
    required: name === 'path',
    schema: { type: 'string' },
    ...(name === 'path' ? {} : { description: 'From get_file_url, instead of the bearer token.' }),
  }));
  return {
    '/api/servers/{id}/files/content': {
      get: {
        summary: 'Stream a file out (Range supported)',
        parameters: [serverParam, ...fileQuery],
        responses: {
          200: { description: 'The file.', content: { 'application/octet-stream': {} } },
          206: { description: 'A range of the file.', content: { 'application/octet-stream': {} } },
          401: unauthorized,
        },
      },
      put: {
        summary: 'Stream a file in (written to a temporary file, then renamed into place)',
        parameters: [serverParam, ...fileQuery],
        requestBody: { required: true, content: { 'application/octet-stream': {} } },
        responses: { 200: json('CommandReply', 'Written.'), 401: unauthorized },
      },
    },
  };
}

/** What an operator reads: metrics and this document. */
function operatorPaths() {
  return {
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (text format 0.0.4); on metrics.listen instead when that is configured',
        responses: {
          200: { description: 'Metrics.', content: { 'text/plain': { schema: { type: 'string' } } } },
          401: unauthorized,
        },
      },
    },
    '/api/docs': {
      get: {
        summary: 'This document',
        responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': {} } }, 401: unauthorized },
      },
    },
  };
}

/**
 * GET /api/docs. Behind the node token like every route but /health and /ready (PROTOCOL.md §2.1): the document
 * holds nothing secret (it is in the repository and the package), but making it public would change the contract
 * and the one auth hook for a file an operator already has. Built on the first request, then kept.
 */
export function docsRoute(build: () => Record<string, unknown>) {
  let body: string | undefined;
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/api/docs', async (_request, reply) => {
      body ??= `${JSON.stringify(build(), null, 2)}\n`;
      return reply.header('content-type', 'application/json; charset=utf-8').send(body);
    });
  };
}
