import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { AgentError } from '../errors.js';
import type { DockerEngine } from './engine.js';
import { isConflict } from './errors.js';
import { type ContainerRole, LABEL_MANAGED, LABEL_ROLE } from './labels.js';

/** The agent's own bridge networks: the game servers' and the install containers'. */
export class DockerNetworks {
  constructor(
    private readonly engine: DockerEngine,
    private readonly log: Logger,
  ) {}

  /**
   * One of the agent's own bridge networks (`role`: the game servers', or the install containers', which is
   * kept apart so an install script never shares a segment with running servers); inter-container traffic is
   * off on both so containers cannot reach each other.
   * Creating it is not atomic in the Engine (20.10 lets two concurrent creates with CheckDuplicate both succeed),
   * and a duplicated name makes every container create fail as ambiguous; so after creating, every agent keeps
   * the oldest network of that name and removes the other unused copies that carry our label.
   */
  async ensureNetwork(name: string, role: ContainerRole = 'server'): Promise<void> {
    const named = async () =>
      (
        await this.engine.call('list networks', (abortSignal) =>
          this.engine.docker.listNetworks({ filters: { name: [name] }, abortSignal }),
        )
      ).filter((n) => n.Name === name);
    if ((await named()).length === 1) return;
    try {
      await this.engine.call('create the network', (abortSignal) =>
        this.engine.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: { [LABEL_MANAGED]: 'true', [LABEL_ROLE]: role },
          Options: { 'com.docker.network.bridge.enable_icc': 'false' },
          abortSignal,
        }),
      );
    } catch (err) {
      // Another agent on the same Engine created it between our list and create.
      if (!isConflict((err as AgentError).cause)) throw err;
    }
    const [keep, ...extra] = (await named()).sort(
      (a, b) => Date.parse(a.Created ?? '') - Date.parse(b.Created ?? '') || (a.Id < b.Id ? -1 : 1),
    );
    const removed: string[] = [];
    for (const copy of extra) {
      if (copy.Labels?.[LABEL_MANAGED] !== 'true') continue;
      await this.engine
        .call('remove a duplicate network', (abortSignal) =>
          this.engine.docker.getNetwork(copy.Id).remove({ abortSignal }),
        )
        .then(() => removed.push(copy.Id))
        .catch(() => undefined); // in use, or already removed by the other agent
    }
    if (extra.length) {
      this.log.warn(
        { network: name, kept: keep?.Id, removed, left: extra.length - removed.length },
        'duplicate networks',
      );
    }
  }

  /**
   * The gateway address of one of the agent's networks (the host side of the bridge, where a game reaches
   * services on the host: `{{config.docker.interface}}` in config files), or undefined when it has none.
   */
  async networkGateway(name: string): Promise<string | undefined> {
    type Inspect = { inspect(o: { abortSignal: AbortSignal }): Promise<Docker.NetworkInspectInfo> };
    const info = await this.engine.call(`inspect network ${name}`, (abortSignal) =>
      (this.engine.docker.getNetwork(name) as unknown as Inspect).inspect({ abortSignal }),
    );
    const configs: { Gateway?: string }[] = info.IPAM?.Config ?? [];
    return configs.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway ?? configs[0]?.Gateway;
  }
}
