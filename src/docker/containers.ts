import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import type { DockerEngine } from './engine.js';
import { isConflict } from './errors.js';
import { LABEL_AGENT_ID, LABEL_MANAGED, LABEL_ROLE, LABEL_SERVER_ID, ownerFilters } from './labels.js';

/**
 * How long runToCompletion waits, after the exit, for the attach stream to deliver the rest of the output: the
 * Engine closes it within milliseconds; a stream that never ends costs the install no more than this.
 */
const OUTPUT_DRAIN_MS = 2_000;

export interface ManagedContainer {
  id: string;
  serverId: string;
  state: string;
  labels: Record<string, string>;
}

export interface ContainerStatus {
  id: string;
  running: boolean;
  /** The Engine's state name, as a container list gives it (created, running, paused, exited, …). */
  state: string;
  /** The container's init process on the host (0 when not running). */
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  labels: Record<string, string>;
}

/**
 * The agent's containers, found only through label filters the Engine evaluates (this agent's id included), so a
 * container the agent did not create is never inspected, stopped or removed.
 */
export class DockerContainers {
  constructor(
    private readonly engine: DockerEngine,
    private readonly agentId: string,
    private readonly log: Logger,
  ) {}

  /** Every server container this agent owns, running or not. */
  async listManaged(): Promise<ManagedContainer[]> {
    const list = await this.engine.call('list containers', (abortSignal) =>
      this.engine.docker.listContainers({ all: true, filters: { label: ownerFilters(this.agentId) }, abortSignal }),
    );
    return list.map((c) => ({
      id: c.Id,
      serverId: c.Labels[LABEL_SERVER_ID] ?? '',
      state: c.State,
      labels: c.Labels,
    }));
  }

  /**
   * The server's container of `role`. `knownId` (the id from the create just made, or from the last lookup) is
   * tried first with an inspect by id, and kept only if its labels name this agent, this server and this role: a
   * list walks every container of the Engine (it cost a filtered list 25 ms on average and up to 330 ms with 50
   * servers starting, against a few ms for an inspect), and a start did two of them. A known id that is gone
   * (re-created or removed outside the agent) or not ours falls back to the label list, so labels stay the truth.
   */
  async findContainer(
    serverId: string,
    role: 'server' | 'install' = 'server',
    knownId?: string,
  ): Promise<ManagedContainer | undefined> {
    if (knownId) {
      const known = await this.status(knownId);
      const labels = known?.labels ?? {};
      if (
        known &&
        labels[LABEL_AGENT_ID] === this.agentId &&
        labels[LABEL_SERVER_ID] === serverId &&
        labels[LABEL_ROLE] === role
      ) {
        return { id: known.id, serverId, state: known.state, labels };
      }
    }
    const list = await this.engine.call('list containers', (abortSignal) =>
      this.engine.docker.listContainers({
        all: true,
        filters: { label: ownerFilters(this.agentId, serverId, role) },
        abortSignal,
      }),
    );
    const c = list[0];
    return c ? { id: c.Id, serverId, state: c.State, labels: c.Labels } : undefined;
  }

  /** Status of a container found through findContainer/listManaged (never a name from outside). */
  async status(containerId: string): Promise<ContainerStatus | undefined> {
    try {
      const info = await this.engine.call('inspect the container', (abortSignal) =>
        this.engine.docker.getContainer(containerId).inspect({ abortSignal }),
      );
      if (info.Config.Labels?.[LABEL_MANAGED] !== 'true') return undefined;
      return {
        id: info.Id,
        running: info.State.Running,
        state: info.State.Status,
        pid: info.State.Pid ?? 0,
        exitCode: info.State.ExitCode,
        oomKilled: info.State.OOMKilled,
        startedAt: info.State.Running ? info.State.StartedAt : undefined,
        finishedAt: info.State.Running ? undefined : info.State.FinishedAt,
        labels: info.Config.Labels ?? {},
      };
    } catch (err) {
      if ((err as AgentError).code === 'CONTAINER_NOT_FOUND') return undefined;
      throw err;
    }
  }

  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    try {
      // A copy: docker-modem deletes `abortSignal` from the options object it is given.
      const container = await this.engine.call('create the container', (abortSignal) =>
        this.engine.docker.createContainer({ ...options, abortSignal }),
      );
      return container.id;
    } catch (err) {
      const cause = (err as AgentError).cause;
      if (isConflict(cause)) {
        // The cause stays for the caller that first looks for its own container of that name (container.ts).
        throw new AgentError(
          'DOCKER_ERROR',
          `a container named ${options.name} already exists and is not owned by this agent; remove or rename it`,
          undefined,
          { cause },
        );
      }
      throw err;
    }
  }

  async start(containerId: string): Promise<void> {
    try {
      await this.engine.call('start the container', (abortSignal) =>
        this.engine.docker.getContainer(containerId).start({ abortSignal }),
      );
    } catch (err) {
      if ((err as AgentError).cause && (err as { cause: { statusCode?: number } }).cause.statusCode === 304) return;
      throw err;
    }
  }

  /**
   * `docker update` of a container's resource limits, in place (update_server, PROTOCOL.md §4.6). The Engine reads
   * 0 as "leave unchanged", so a caller cannot lift a limit this way; it re-creates the container instead.
   */
  async updateResources(
    containerId: string,
    resources: { Memory?: number; MemorySwap?: number; NanoCpus?: number; BlkioWeight?: number },
  ): Promise<void> {
    await this.engine.call('update the container limits', (abortSignal) =>
      this.engine.docker.getContainer(containerId).update({ ...resources, abortSignal }),
    );
  }

  /** Sends a signal; a container that is not running is not an error. */
  async kill(containerId: string, signal: string): Promise<void> {
    try {
      await this.engine.call(`send ${signal}`, (abortSignal) =>
        this.engine.docker.getContainer(containerId).kill({ signal, abortSignal }),
      );
    } catch (err) {
      const cause = (err as AgentError).cause as { statusCode?: number } | undefined;
      if (cause?.statusCode === 409 || cause?.statusCode === 404) return;
      throw err;
    }
  }

  async remove(containerId: string): Promise<void> {
    try {
      await this.engine.call('remove the container', (abortSignal) =>
        this.engine.docker.getContainer(containerId).remove({ force: true, v: true, abortSignal }),
      );
    } catch (err) {
      if ((err as AgentError).code === 'CONTAINER_NOT_FOUND') return;
      throw err;
    }
  }

  /**
   * Resolves when the container is not running, or after `timeoutMs` with false. Polls inspect rather than
   * holding a /wait request, which Docker drops on restart and which cannot be cancelled cleanly.
   */
  async waitForExit(containerId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status(containerId);
      if (!status?.running) return true;
      if (signal?.aborted || Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
  }

  /** One stats sample from the Engine (the fallback when cgroup files are not visible to the agent). */
  async statsOnce(
    containerId: string,
  ): Promise<{ cpuNs: number; memoryBytes: number; rxBytes: number; txBytes: number }> {
    const stats = (await this.engine.call('read container stats', (abortSignal) =>
      this.engine.docker.getContainer(containerId).stats({ stream: false, abortSignal } as { stream: false }),
    )) as unknown as {
      cpu_stats?: { cpu_usage?: { total_usage?: number } };
      memory_stats?: { usage?: number; stats?: Record<string, number> };
      networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
    };
    const memStats = stats.memory_stats?.stats ?? {};
    const inactive = memStats.total_inactive_file ?? memStats.inactive_file ?? 0;
    let rxBytes = 0;
    let txBytes = 0;
    for (const net of Object.values(stats.networks ?? {})) {
      rxBytes += net.rx_bytes ?? 0;
      txBytes += net.tx_bytes ?? 0;
    }
    return {
      cpuNs: stats.cpu_stats?.cpu_usage?.total_usage ?? 0,
      memoryBytes: Math.max(0, (stats.memory_stats?.usage ?? 0) - inactive),
      rxBytes,
      txBytes,
    };
  }

  /** A raw duplex to the container's TTY: stdin in, stdout+stderr out. */
  async attach(containerId: string): Promise<Duplex> {
    return (await this.engine.call('attach to the container', (abortSignal) =>
      this.engine.docker
        .getContainer(containerId)
        .attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true, abortSignal }),
    )) as unknown as Duplex;
  }

  /** The last lines of the container's log (TTY containers: raw stream). */
  async logTail(containerId: string, lines: number): Promise<Buffer> {
    const out = await this.engine.call('read the container log', (abortSignal) =>
      this.engine.docker
        .getContainer(containerId)
        .logs({ stdout: true, stderr: true, tail: lines, follow: false, abortSignal }),
    );
    return Buffer.isBuffer(out) ? out : Buffer.from(String(out));
  }

  /** Runs a short-lived install container to completion, streaming its output. */
  async runToCompletion(
    options: Docker.ContainerCreateOptions,
    onOutput: (chunk: Buffer) => void,
    timeoutMs: number,
  ): Promise<number> {
    const id = await this.createContainer(options);
    let stream: Duplex | undefined;
    try {
      stream = await this.attach(id);
      // The stream ends once the container is gone, and its last chunk can arrive after the exit is seen: that
      // chunk is where SteamCMD prints its failure line, so the end is awaited, briefly. An error ends it too
      // (logged, never an unhandled 'error').
      const attached = stream;
      const ended = new Promise<void>((resolve) => {
        attached.once('end', resolve).once('close', resolve);
        attached.on('error', (err) => {
          this.log.debug({ err }, 'install container output stream failed');
          resolve();
        });
      });
      attached.on('data', onOutput);
      await this.start(id);
      const exited = await this.waitForExit(id, timeoutMs);
      if (!exited) {
        await this.kill(id, 'SIGKILL');
        throw new AgentError('TIMEOUT', `install did not finish within ${Math.round(timeoutMs / 1000)} s`);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, OUTPUT_DRAIN_MS)))]);
      clearTimeout(timer);
      return (await this.status(id))?.exitCode ?? -1;
    } finally {
      stream?.destroy();
      await this.remove(id).catch((err) => this.log.warn({ err }, 'could not remove the install container'));
    }
  }
}
