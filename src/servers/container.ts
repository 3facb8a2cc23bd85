import { createHash } from 'node:crypto';
import type { ContainerCreateOptions } from 'dockerode';
import { buildContainerOptions, CONTAINER_OPTIONS_REVISION } from '../docker/container-options.js';
import { isConflict, isDockerTimeout } from '../docker/errors.js';
import { parseImageRef } from '../docker/image-ref.js';
import { containerName, LABEL_SPEC_HASH, ownerLabels } from '../docker/labels.js';
import type { HostFacts, ImageFacts, ManagedContainer } from '../docker/runtime.js';
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

/**
 * The image's facts, pulled again when it was removed since the install (docker image prune). `cached`: the facts
 * of this process's last inspect will do (runtime.cachedImageFacts: a pull through the agent drops them), which
 * saves an image inspect where they only decide whether an existing container still matches its spec, or right
 * after the install's own pull.
 */
async function imageFacts(ctx: ContainerContext, server: Server, cached: boolean): Promise<ImageFacts> {
  const image = parseImageRef(server.spec.image).ref;
  let facts = (cached ? ctx.runtime.cachedImageFacts(image) : undefined) ?? (await ctx.runtime.inspectImage(image));
  if (!facts) {
    await ctx.runtime.pullImage(server.spec.image, () => undefined);
    facts = await ctx.runtime.inspectImage(image);
  }
  if (!facts) throw new AgentError('IMAGE_PULL_FAILED', `image ${image} is not present locally`);
  return facts;
}

async function buildFacts(ctx: ContainerContext, server: Server, cached = false): Promise<BuildFacts> {
  const [image, host] = await Promise.all([imageFacts(ctx, server, cached), ctx.hostFacts()]);
  return { image, host };
}

/** The id of the server's container the agent last created, found or reattached to: a hint, never the truth. */
function knownContainerId(server: Server): string | undefined {
  return server.containerId ?? server.running?.containerId;
}

/** Whether `container` was built from exactly these create options (their hash label, see optionsHash). */
function builtFrom(container: ManagedContainer, options: ContainerCreateOptions): boolean {
  return container.labels[LABEL_SPEC_HASH] === options.Labels?.[LABEL_SPEC_HASH];
}

/**
 * The server's container as findContainer finds it, trying the id the agent last knew first (its create, its
 * reattach) and remembering what it found for the next lookup.
 */
export async function findServerContainer(
  runtime: Pick<ContainerContext['runtime'], 'findContainer'>,
  server: Server,
): Promise<ManagedContainer | undefined> {
  const found = await runtime.findContainer(server.id, 'server', knownContainerId(server));
  server.containerId = found?.id;
  return found;
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

/**
 * Creates the server's container from its spec, replacing an old one (`old`: the one the caller just found, or
 * null for none). Returns the container id. Right after the install's pull the cached image facts are as fresh as
 * that pull, so the install does not inspect the image again.
 */
export async function createServerContainer(
  ctx: ContainerContext,
  server: Server,
  known: { options?: ContainerCreateOptions; old?: ManagedContainer | null } = {},
): Promise<string> {
  // With no container known, the create itself asks: an old one can only be under the server's container name,
  // so the Engine refuses the name, and the labels then say whether it is ours to replace. That spares a first
  // install the list of every container the Engine holds.
  const old =
    known.old === undefined && knownContainerId(server) ? await findServerContainer(ctx.runtime, server) : known.old;
  if (old) await ctx.runtime.remove(old.id);
  server.containerId = undefined;
  const create = known.options ?? serverContainerOptions(ctx, server, await buildFacts(ctx, server, true));
  try {
    server.containerId = await createOnce(ctx, server, create, old === undefined);
    return server.containerId;
  } catch (err) {
    if (!isDockerTimeout(err)) throw err;
    // The Engine may have created it after the deadline (issue 13): what exists decides, not the timed-out call.
    const late = await findServerContainer(ctx.runtime, server).catch(() => undefined);
    if (late && builtFrom(late, create)) return late.id;
    throw err;
  }
}

/** The create; `unlooked`: no lookup came first, so a name conflict with our own old container replaces it. */
async function createOnce(
  ctx: ContainerContext,
  server: Server,
  create: ContainerCreateOptions,
  unlooked: boolean,
): Promise<string> {
  try {
    return await ctx.runtime.createContainer(create);
  } catch (err) {
    if (!unlooked || !isConflict((err as AgentError).cause)) throw err;
    const old = await findServerContainer(ctx.runtime, server);
    if (!old) throw err; // the name is taken by a container that is not this server's
    await ctx.runtime.remove(old.id);
    server.containerId = undefined;
    return ctx.runtime.createContainer(create);
  }
}

/**
 * The server's container, re-created when missing or built from other options than its spec gives now. At each
 * start this costs one inspect by id (the container's labels) when the image's facts are cached; the facts are
 * read afresh before anything is re-created, so a container is never replaced on a stale reading.
 */
export async function ensureServerContainer(ctx: ContainerContext, server: Server): Promise<string> {
  const existing = await findServerContainer(ctx.runtime, server);
  if (existing && ctx.runtime.cachedImageFacts(parseImageRef(server.spec.image).ref)) {
    if (builtFrom(existing, serverContainerOptions(ctx, server, await buildFacts(ctx, server, true))))
      return existing.id;
  }
  const options = serverContainerOptions(ctx, server, await buildFacts(ctx, server));
  if (existing && builtFrom(existing, options)) return existing.id;
  return createServerContainer(ctx, server, { options, old: existing ?? null });
}
