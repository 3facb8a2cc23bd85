import type { InstallOptionsInput } from '../docker/install-options.js';
import { ownerLabels } from '../docker/labels.js';
import type { ServerContext } from './context.js';
import type { Server } from './server.js';

/** What a server's helper containers (install scripts, SteamCMD) are built from. */
export type HelperContext = Pick<ServerContext, 'config' | 'agentId' | 'runtime' | 'hostFacts'>;

/**
 * What every helper container of a server shares: the install role's labels (deleting the server removes it),
 * the server's limits with the install floors, its directory, the install network. The install network is
 * ensured per run, not only at boot: it is one list, and an operator's `docker network prune` between boot and
 * this run would otherwise fail it.
 */
export async function helperContainerBase(
  ctx: HelperContext,
  server: Server,
): Promise<Omit<InstallOptionsInput, 'name' | 'image' | 'entrypoint' | 'cmd' | 'environment'>> {
  const { servers, docker } = ctx.config;
  const [host] = await Promise.all([ctx.hostFacts(), ctx.runtime.ensureNetwork(docker.installNetwork, 'install')]);
  return {
    labels: ownerLabels(ctx.agentId, server.id, 'install'),
    limits: server.spec.limits,
    minMemoryMb: servers.installMemoryMb,
    minCpuPercent: servers.installCpuPercent,
    dataDir: server.dataDir,
    network: docker.installNetwork,
    pidsLimit: servers.pidsLimit,
    tmpSizeMb: servers.tmpSizeMb,
    hostHasIoWeight: host.ioWeight,
  };
}
