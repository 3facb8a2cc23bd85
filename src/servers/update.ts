import { mapLimits } from '../docker/container-options.js';
import { AgentError, toAgentError } from '../errors.js';
import { describeIssues } from '../protocol/fields.js';
import { serverContainerOptions } from './container.js';
import type { ServerContext } from './context.js';
import type { PortPool } from './port-pool.js';
import { awaitSettling } from './power.js';
import type { Server } from './server.js';
import { createServerPayload, type Limits, resolveStartup, type ServerSpec, specFromPayload } from './spec.js';
import { isActive } from './state.js';

/**
 * update_server (PROTOCOL.md §4.6): any create_server field. The payload is laid over the stored spec and parsed
 * by create_server's own schema and spec builder, so every rule of create (eggs included) holds for updates.
 * Limits go live through `docker update` on a running container; anything that shapes the container takes effect
 * at the next start, when the container is re-created because its spec hash changed (container.ts).
 */

export type Applied = 'live' | 'next_start';

/** What an update reads: the defaults startup is resolved with, the container calls, the host's facts. */
export type UpdateContext = Pick<ServerContext, 'config' | 'agentId' | 'runAs' | 'runtime' | 'hostFacts'>;

export interface UpdateResult {
  applied: Applied;
  warnings: string[];
  unresolved: string[];
}

/** Fields an egg supplies (§4.6): an update that brings an egg lets the egg's values replace the stored ones. */
const EGG_FIELDS = [
  'image',
  'startup',
  'stopCommand',
  'stopSignal',
  'startupDone',
  'install',
  'denylist',
  'configFiles',
] as const;

/** Limits `docker update` changes in place; `disk` is the agent's own (it measures and refuses writes). */
const DOCKER_LIMITS = ['memory', 'swap', 'cpu', 'io'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The create_server payload a stored spec was built from (the inverse of specFromPayload, field for field). */
function payloadOf(spec: ServerSpec): Record<string, unknown> {
  const {
    id: _id,
    createdAt: _c,
    updatedAt: _u,
    consoleBufferLines: _b,
    portFromPool,
    startupTemplate,
    ports,
    ...rest
  } = spec;
  // A pool port is the agent's choice, not the panel's: it is placed again (and kept while free), so an update
  // that now brings a numeric SERVER_PORT publishes that instead.
  return { ...rest, startup: startupTemplate, ...(portFromPool ? {} : { ports }) };
}

/** The new spec for `update` over `previous`; INVALID_PAYLOAD (and nothing changed) when create would refuse it. */
export function updatedSpec(previous: ServerSpec, update: Record<string, unknown>, now: Date): ServerSpec {
  const base = payloadOf(previous);
  if ('egg' in update) for (const field of EGG_FIELDS) delete base[field];
  if ('ports' in update || 'allocations' in update) delete base.ports;
  const merged: Record<string, unknown> = { ...base, ...update };
  // Limits merge key by key: `{limits: {memory: 2048}}` keeps the CPU limit instead of resetting it to 0 (none).
  if (isPlainObject(update.limits)) merged.limits = { ...previous.limits, ...update.limits };
  const parsed = createServerPayload.safeParse(merged);
  if (!parsed.success) throw new AgentError('INVALID_PAYLOAD', describeIssues(parsed.error));
  const next: Record<string, unknown> = { ...specFromPayload(previous.id, parsed.data, now, previous) };
  // Fields that only the agent sets (and fields a newer spec builder derives) are kept.
  for (const [key, value] of Object.entries(previous)) if (!(key in next)) next[key] = value;
  return next as unknown as ServerSpec;
}

export interface SpecChange {
  /** A Docker limit changed (memory, swap, cpu, io). */
  limits: boolean;
  /** Something that shapes the container changed: in force at the next start. */
  container: boolean;
}

/**
 * Decided on the create options built from each spec, as the spec hash is (container.ts), so no list of fields
 * can drift from what the container is made of. The new spec is built with the old limits: a limit change goes
 * live through `docker update` and does not by itself mean a new container. Both sides are built with the same
 * facts; only the specs differ. The environment is compared as a set: the same variables sent in another order
 * are no change.
 */
export function classifyChange(
  ctx: Pick<ServerContext, 'config' | 'agentId' | 'runAs'>,
  server: Pick<Server, 'id' | 'dataDir'>,
  previous: ServerSpec,
  next: ServerSpec,
): SpecChange {
  const facts = { image: { hasEntrypoint: false, user: '' }, host: { ioWeight: true } };
  const shape = (spec: ServerSpec) => {
    const {
      Labels: _hashed,
      Env,
      ...options
    } = serverContainerOptions(ctx, { id: server.id, dataDir: server.dataDir, spec }, facts);
    return JSON.stringify({ ...options, Env: [...(Env ?? [])].sort() });
  };
  return {
    limits: DOCKER_LIMITS.some((k) => previous.limits[k] !== next.limits[k]),
    container: shape(previous) !== shape({ ...next, limits: previous.limits }),
  };
}

/**
 * `docker update` of a running container. The Engine reads 0 as "unchanged", so lifting a memory or CPU limit
 * (0 = unlimited) cannot go live; nor can anything the Engine or kernel refuses (memory below current use).
 * Returns undefined when applied, else why not.
 */
async function applyLimitsLive(
  ctx: UpdateContext,
  server: Server,
  previous: Limits,
  next: Limits,
): Promise<string | undefined> {
  const container = isActive(server.state) ? await ctx.runtime.findContainer(server.id) : undefined;
  const status = container ? await ctx.runtime.status(container.id) : undefined;
  if (!container || !status?.running) return 'the server is not running';
  if ((previous.memory !== 0 && next.memory === 0) || (previous.cpu !== 0 && next.cpu === 0)) {
    return 'lifting a memory or CPU limit needs a new container';
  }
  const mapped = mapLimits(next, (await ctx.hostFacts()).ioWeight);
  const resources: Parameters<ServerContext['runtime']['updateResources']>[1] = {};
  if (next.memory > 0) {
    resources.Memory = mapped.Memory;
    resources.MemorySwap = mapped.MemorySwap;
  }
  if (next.cpu > 0) resources.NanoCpus = mapped.NanoCpus;
  if (mapped.BlkioWeight !== undefined) resources.BlkioWeight = mapped.BlkioWeight;
  try {
    await ctx.runtime.updateResources(container.id, resources);
    return undefined;
  } catch (err) {
    const error = toAgentError(err);
    server.log.warn({ err: error }, 'live limit update refused; the limits apply at the next start');
    return `the Engine refused the live update (${error.message})`;
  }
}

/**
 * Validates, places the ports (the pool's lock: a port another server holds → PORT_CONFLICT), persists the new
 * spec atomically and applies what can be applied now. A refused update changes nothing.
 */
export async function updateServer(
  ctx: UpdateContext,
  ports: PortPool,
  others: (id: string) => ServerSpec[],
  server: Server,
  update: Record<string, unknown>,
): Promise<UpdateResult> {
  await awaitSettling(server);
  const busy = server.lock.current;
  if (server.state === 'installing' || busy === 'install' || busy === 'reinstall' || busy === 'delete') {
    throw new AgentError('SERVER_BUSY', `server ${server.id} is busy: ${busy ?? server.state}`);
  }
  const { previous, next } = await ports.serialize(async () => {
    const before = server.spec;
    const placed = ports.place(updatedSpec(before, update, new Date()), others(server.id), before);
    server.spec = placed;
    try {
      await server.persist();
    } catch (err) {
      server.spec = before;
      throw err;
    }
    return { previous: before, next: placed };
  });
  const change = classifyChange(ctx, server, previous, next);
  const warnings: string[] = [];
  let applied: Applied = change.container ? 'next_start' : 'live';
  if (change.limits) {
    // SERVER_MEMORY in the container's environment follows at the next start (the spec hash changed); the
    // cgroup limit, which is what the game is held to, is in force now.
    const refused = await applyLimitsLive(ctx, server, previous.limits, next.limits);
    if (refused) {
      applied = 'next_start';
      warnings.push(`${refused}; the new limits take effect at the next start`);
    }
  }
  const resolved = resolveStartup(next, { ip: ctx.config.servers.defaultIp, timezone: ctx.config.servers.timezone });
  server.log.info({ applied, change }, 'spec updated');
  return { applied, warnings: [...warnings, ...resolved.warnings], unresolved: resolved.unresolved };
}
