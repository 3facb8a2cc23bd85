import { createHash } from 'node:crypto';
import { buildContainerOptions, CONTAINER_OPTIONS_REVISION } from '../docker/container-options.js';
import { isDockerTimeout } from '../docker/errors.js';
import { parseImageRef } from '../docker/image-ref.js';
import { containerName, LABEL_SPEC_HASH, ownerLabels } from '../docker/labels.js';
import { AgentError } from '../errors.js';
import type { ServerContext } from './context.js';
import type { Server } from './server.js';
import { resolveStartup } from './spec.js';

/**
 * The hash of everything that shapes the container; a change means the container must be re-created. The
 * options revision is part of it, so a container an older agent built (issue 11: an `exec`-prefixed startup
 * that crashes compound lines) is replaced at its next start instead of living on with the old command.
 */
export function specHash(server: Server): string {
  // The game query does not shape the container: changing it must not re-create one.
  const { createdAt: _c, updatedAt: _u, name: _n, consoleBufferLines: _b, query: _q, ...shape } = server.spec;
  return createHash('sha256')
    .update(`${CONTAINER_OPTIONS_REVISION}\n`)
    .update(JSON.stringify(shape))
    .digest('hex')
    .slice(0, 16);
}

function imageRef(image: string): string {
  return parseImageRef(image).ref;
}

/** Creates the server's container from its spec, replacing an old one. Returns the container id. */
export async function createServerContainer(ctx: ServerContext, server: Server): Promise<string> {
  const old = await ctx.runtime.findContainer(server.id);
  if (old) await ctx.runtime.remove(old.id);
  const image = imageRef(server.spec.image);
  let facts = await ctx.runtime.inspectImage(image);
  if (!facts) {
    // The image was removed since the install (docker image prune): fetch it again.
    await ctx.runtime.pullImage(server.spec.image, () => undefined);
    facts = await ctx.runtime.inspectImage(image);
  }
  if (!facts) throw new AgentError('IMAGE_PULL_FAILED', `image ${image} is not present locally`);
  const resolved = resolveStartup(server.spec, {
    ip: ctx.config.servers.defaultIp,
    timezone: ctx.config.servers.timezone,
  });
  const options = buildContainerOptions({
    name: containerName(server.id),
    image,
    labels: { ...ownerLabels(ctx.agentId, server.id, 'server'), [LABEL_SPEC_HASH]: specHash(server) },
    environment: resolved.environment,
    startup: resolved.startup,
    imageHasEntrypoint: facts.hasEntrypoint,
    limits: server.spec.limits,
    ports: resolved.ports,
    dataDir: server.dataDir,
    network: ctx.config.docker.network,
    user: ctx.runAs ? `${ctx.runAs.uid}:${ctx.runAs.gid}` : undefined,
    pidsLimit: ctx.config.servers.pidsLimit,
    tmpSizeMb: ctx.config.servers.tmpSizeMb,
    init: ctx.config.servers.init,
    hostHasIoWeight: ctx.host.ioWeight,
    defaultIp: ctx.config.servers.defaultIp,
  });
  try {
    return await ctx.runtime.createContainer(options);
  } catch (err) {
    if (!isDockerTimeout(err)) throw err;
    // The Engine may have created it after the deadline (issue 13): what exists decides, not the timed-out call.
    const late = await ctx.runtime.findContainer(server.id).catch(() => undefined);
    if (late?.labels[LABEL_SPEC_HASH] === specHash(server)) return late.id;
    throw err;
  }
}

/** The server's container, re-created when missing or built from an older spec. */
export async function ensureServerContainer(ctx: ServerContext, server: Server): Promise<string> {
  const existing = await ctx.runtime.findContainer(server.id);
  if (existing && existing.labels[LABEL_SPEC_HASH] === specHash(server)) return existing.id;
  return createServerContainer(ctx, server);
}
