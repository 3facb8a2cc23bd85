import { createHash } from 'node:crypto';
import type { ContainerCreateOptions } from 'dockerode';
import { buildContainerOptions, CONTAINER_OPTIONS_REVISION } from '../docker/container-options.js';
import { isDockerTimeout } from '../docker/errors.js';
import { parseImageRef } from '../docker/image-ref.js';
import { containerName, LABEL_SPEC_HASH, ownerLabels } from '../docker/labels.js';
import type { HostFacts, ImageFacts } from '../docker/runtime.js';
import { AgentError } from '../errors.js';
import type { ServerContext } from './context.js';
import type { Server } from './server.js';
import { resolveStartup } from './spec.js';

/**
 * The hash of the container's create options as built (issue 14): a change means the container must be
 * re-created, and nothing else does (a new denylist, restart policy, query or stop command is read by the agent,
 * not baked into the container). The options revision is part of it, so a container an older agent built (issue
 * 11: an `exec`-prefixed startup that crashes compound lines) is replaced at its next start.
 */
export function optionsHash(options: ContainerCreateOptions): string {
  return createHash('sha256')
    .update(`${CONTAINER_OPTIONS_REVISION}\n`)
    .update(JSON.stringify(options))
    .digest('hex')
    .slice(0, 16);
}

/** What building and creating a server's container reads. */
export type ContainerContext = Pick<ServerContext, 'config' | 'agentId' | 'runtime' | 'runAs' | 'hostFacts'>;

/** The facts a container's options are built from besides the spec and the config. */
export interface BuildFacts {
  image: ImageFacts;
  host: HostFacts;
}

/** The image's facts, pulled again when it was removed since the install (docker image prune). */
async function imageFacts(ctx: ContainerContext, server: Server): Promise<ImageFacts> {
  const image = parseImageRef(server.spec.image).ref;
  let facts = await ctx.runtime.inspectImage(image);
  if (!facts) {
    await ctx.runtime.pullImage(server.spec.image, () => undefined);
    facts = await ctx.runtime.inspectImage(image);
  }
  if (!facts) throw new AgentError('IMAGE_PULL_FAILED', `image ${image} is not present locally`);
  return facts;
}

async function buildFacts(ctx: ContainerContext, server: Server): Promise<BuildFacts> {
  const [image, host] = await Promise.all([imageFacts(ctx, server), ctx.hostFacts()]);
  return { image, host };
}

/** The server's container create options, labelled with their own hash. */
export function serverContainerOptions(
  ctx: Pick<ContainerContext, 'config' | 'agentId' | 'runAs'>,
  server: Pick<Server, 'id' | 'spec' | 'dataDir'>,
  facts: BuildFacts,
): ContainerCreateOptions {
  const resolved = resolveStartup(server.spec, {
    ip: ctx.config.servers.defaultIp,
    timezone: ctx.config.servers.timezone,
  });
  const options = buildContainerOptions({
    name: containerName(server.id),
    image: parseImageRef(server.spec.image).ref,
    labels: ownerLabels(ctx.agentId, server.id, 'server'),
    environment: resolved.environment,
    startup: resolved.startup,
    imageHasEntrypoint: facts.image.hasEntrypoint,
    limits: server.spec.limits,
    ports: resolved.ports,
    dataDir: server.dataDir,
    network: ctx.config.docker.network,
    user: ctx.runAs ? `${ctx.runAs.uid}:${ctx.runAs.gid}` : undefined,
    pidsLimit: ctx.config.servers.pidsLimit,
    tmpSizeMb: ctx.config.servers.tmpSizeMb,
    init: ctx.config.servers.init,
    hostHasIoWeight: facts.host.ioWeight,
    defaultIp: ctx.config.servers.defaultIp,
  });
  return { ...options, Labels: { ...options.Labels, [LABEL_SPEC_HASH]: optionsHash(options) } };
}

/** Creates the server's container from its spec, replacing an old one. Returns the container id. */
export async function createServerContainer(
  ctx: ContainerContext,
  server: Server,
  options?: ContainerCreateOptions,
): Promise<string> {
  const old = await ctx.runtime.findContainer(server.id);
  if (old) await ctx.runtime.remove(old.id);
  const create = options ?? serverContainerOptions(ctx, server, await buildFacts(ctx, server));
  try {
    return await ctx.runtime.createContainer(create);
  } catch (err) {
    if (!isDockerTimeout(err)) throw err;
    // The Engine may have created it after the deadline (issue 13): what exists decides, not the timed-out call.
    const late = await ctx.runtime.findContainer(server.id).catch(() => undefined);
    if (late && late.labels[LABEL_SPEC_HASH] === create.Labels?.[LABEL_SPEC_HASH]) return late.id;
    throw err;
  }
}

/** The server's container, re-created when missing or built from other options than its spec gives now. */
export async function ensureServerContainer(ctx: ContainerContext, server: Server): Promise<string> {
  const options = serverContainerOptions(ctx, server, await buildFacts(ctx, server));
  const existing = await ctx.runtime.findContainer(server.id);
  if (existing && existing.labels[LABEL_SPEC_HASH] === options.Labels?.[LABEL_SPEC_HASH]) return existing.id;
  return createServerContainer(ctx, server, options);
}
