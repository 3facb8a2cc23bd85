import type { Duplex, Readable } from 'node:stream';
import '../lazy-modules.js';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import { DockerTimeoutError, engineMessage, isConflict, isNotFound, toDockerAgentError } from './errors.js';
import { parseImageRef } from './image-ref.js';
import { type ContainerRole, LABEL_MANAGED, LABEL_ROLE, LABEL_SERVER_ID, ownerFilters } from './labels.js';
import { type PullEvent, type PullProgress, PullProgressTracker } from './pull-progress.js';
import { authFor, type RegistryCredentials } from './registry-auth.js';

/**
 * The only module that talks to the Docker Engine. Every container it lists or touches is found through
 * label filters evaluated by the Engine itself, so a container the agent did not create is never inspected,
 * stopped or removed (the filters include this agent's id, so two agents can share one Engine).
 */

/**
 * How long runToCompletion waits, after the exit, for the attach stream to deliver the rest of the output: the
 * Engine closes it within milliseconds; a stream that never ends costs the install no more than this.
 */
const OUTPUT_DRAIN_MS = 2_000;

export interface RuntimeOptions {
  agentId: string;
  host: string | undefined;
  apiTimeoutMs: number;
  pullTimeoutMs: number;
  /** Private-registry credentials by host (docker.registries). */
  registries?: Readonly<Record<string, RegistryCredentials>>;
  logger: Logger;
}

export interface ManagedContainer {
  id: string;
  serverId: string;
  state: string;
  labels: Record<string, string>;
}

export interface ContainerStatus {
  id: string;
  running: boolean;
  /** The container's init process on the host (0 when not running). */
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  labels: Record<string, string>;
}

export interface ImageFacts {
  hasEntrypoint: boolean;
  user: string;
}

export interface PullResult {
  /** True when the pull failed and a local copy is used instead. */
  usedLocal: boolean;
  warning?: string;
}

export interface ContainerEvent {
  action: 'start' | 'die' | 'oom' | 'destroy';
  containerId: string;
  serverId: string;
  exitCode: number | undefined;
}

/**
 * Calls whose @types/dockerode signatures omit the options object that dockerode 5 accepts and forwards to
 * docker-modem (which turns `abortSignal` into the request's `signal`).
 */
interface SignalledCalls {
  ping(options: { abortSignal: AbortSignal }): Promise<unknown>;
  version(options: { abortSignal: AbortSignal }): Promise<Docker.DockerVersion>;
  info(options: { abortSignal: AbortSignal }): Promise<{ CgroupVersion?: string; BlkioWeight?: boolean }>;
}

export function createDockerClient(host: string | undefined): Docker {
  if (!host) return new Docker({ socketPath: '/var/run/docker.sock' });
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('/')) return new Docker({ socketPath: host });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
}

export class DockerRuntime {
  readonly docker: Docker;
  private readonly agentId: string;
  private readonly apiTimeoutMs: number;
  private readonly pullTimeoutMs: number;
  private readonly registries: Readonly<Record<string, RegistryCredentials>>;
  private readonly log: Logger;

  constructor(options: RuntimeOptions, docker?: Docker) {
    this.docker = docker ?? createDockerClient(options.host);
    this.agentId = options.agentId;
    this.apiTimeoutMs = options.apiTimeoutMs;
    this.pullTimeoutMs = options.pullTimeoutMs;
    this.registries = options.registries ?? {};
    this.log = options.logger;
  }

  /**
   * Runs one Engine call with a deadline, mapping failures to catalogue errors. `fn` must hand the signal to
   * dockerode (`abortSignal`): on time-out it aborts the HTTP request, which destroys its socket. Racing a timer
   * alone only stopped waiting: against a hung Engine every timed-out call left its connection open, and the
   * health ping alone leaked one every few seconds (about 450 an hour). The race stays for what a signal cannot
   * end (progress parsing after a pull's response), so the deadline holds either way. The signal is only ever
   * aborted by the deadline, never after the call settled: attach and pull return streams that must outlive it.
   */
  private async call<T>(
    what: string,
    fn: (abortSignal: AbortSignal) => Promise<T>,
    timeoutMs = this.apiTimeoutMs,
  ): Promise<T> {
    const controller = new AbortController();
    const timeout = new DockerTimeoutError(what, timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(controller.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort(timeout);
            reject(timeout);
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      // dockerode may reject first with its own AbortError; the caller should see the deadline, not that.
      throw toDockerAgentError(controller.signal.aborted ? timeout : err, what);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The calls above through their real (option-taking) signatures. */
  private get signalled(): SignalledCalls {
    return this.docker as unknown as SignalledCalls;
  }

  async version(): Promise<{ version: string; apiVersion: string; cgroupVersion: string | undefined }> {
    // Side by side: the first health check, and so /ready, waits for both.
    const [v, info] = await Promise.all([
      this.call('read the Engine version', (abortSignal) => this.signalled.version({ abortSignal })),
      this.call('read Engine info', (abortSignal) => this.signalled.info({ abortSignal })).catch(() => undefined),
    ]);
    return { version: v.Version, apiVersion: v.ApiVersion, cgroupVersion: info?.CgroupVersion };
  }

  /** `onError` learns why a ping failed (the health log names ENOENT, EACCES or a time-out). */
  async ping(timeoutMs = 3000, onError?: (err: AgentError) => void): Promise<boolean> {
    try {
      await this.call('ping', (abortSignal) => this.signalled.ping({ abortSignal }), timeoutMs);
      return true;
    } catch (err) {
      onError?.(toDockerAgentError(err, 'ping'));
      return false;
    }
  }

  /** Facts the host offers: io weight exists only with the blkio/io controller (absent on some cgroup v2 hosts). */
  async hostFacts(): Promise<{ ioWeight: boolean }> {
    const info = await this.call('read Engine info', (abortSignal) => this.signalled.info({ abortSignal }));
    return { ioWeight: info.BlkioWeight !== false };
  }

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
        await this.call('list networks', (abortSignal) =>
          this.docker.listNetworks({ filters: { name: [name] }, abortSignal }),
        )
      ).filter((n) => n.Name === name);
    if ((await named()).length === 1) return;
    try {
      await this.call('create the network', (abortSignal) =>
        this.docker.createNetwork({
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
      await this.call('remove a duplicate network', (abortSignal) =>
        this.docker.getNetwork(copy.Id).remove({ abortSignal }),
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
    const info = await this.call(`inspect network ${name}`, (abortSignal) =>
      (this.docker.getNetwork(name) as unknown as Inspect).inspect({ abortSignal }),
    );
    const configs: { Gateway?: string }[] = info.IPAM?.Config ?? [];
    return configs.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway ?? configs[0]?.Gateway;
  }

  async inspectImage(ref: string): Promise<ImageFacts | undefined> {
    try {
      const info = await this.call(`inspect image ${ref}`, (abortSignal) => this.dialImageInspect(ref, abortSignal));
      const entrypoint = info.Config?.Entrypoint;
      return {
        hasEntrypoint: Array.isArray(entrypoint) ? entrypoint.length > 0 : Boolean(entrypoint),
        user: info.Config?.User ?? '',
      };
    } catch (err) {
      if (isNotFound((err as AgentError).cause)) return undefined;
      throw err;
    }
  }

  /**
   * GET /images/{ref}/json through the modem: dockerode's Image.inspect does not forward an abort signal (5.0.1),
   * and an image inspect is part of every install, so against a hung Engine it would hold a socket each time.
   */
  private dialImageInspect(ref: string, abortSignal: AbortSignal): Promise<Docker.ImageInspectInfo> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `/images/${ref}/json`,
          method: 'GET',
          abortSignal,
          statusCodes: { 200: true, 404: 'no such image', 500: 'server error' },
        } as Parameters<Docker['modem']['dial']>[0],
        (err, data) => (err ? reject(err) : resolve(data as Docker.ImageInspectInfo)),
      );
    });
  }

  /**
   * Pulls an image. A "~" prefix means local only. When the pull fails but the image exists locally the local
   * copy is used with a warning (there may be no registry at all); otherwise IMAGE_PULL_FAILED.
   */
  async pullImage(reference: string, onProgress: (progress: PullProgress) => void): Promise<PullResult> {
    const { ref, localOnly } = parseImageRef(reference);
    if (localOnly) {
      if (await this.inspectImage(ref)) return { usedLocal: true };
      throw new AgentError('IMAGE_PULL_FAILED', `image ${ref} is marked local-only (~) but is not present locally`);
    }
    try {
      const authconfig = await authFor(ref, this.registries);
      const tracker = new PullProgressTracker();
      await this.call(
        `pull image ${ref}`,
        async (abortSignal) => {
          const stream = (await this.docker.pull(ref, {
            abortSignal,
            ...(authconfig ? { authconfig } : {}),
          })) as Readable;
          // The progress stream outlives the request; a deadline must end it too.
          abortSignal.addEventListener('abort', () => stream.destroy(), { once: true });
          await new Promise<void>((resolve, reject) => {
            this.docker.modem.followProgress(
              stream,
              (err) => (err ? reject(err) : resolve()),
              (event: PullEvent) => {
                if (event.error) reject(new Error(event.error));
                else {
                  const progress = tracker.push(event);
                  if (progress) onProgress(progress);
                }
              },
            );
          });
        },
        this.pullTimeoutMs,
      );
      return { usedLocal: false };
    } catch (err) {
      if ((err as AgentError).code === 'DOCKER_UNAVAILABLE') throw err;
      if (await this.inspectImage(ref)) {
        const warning = `pull of ${ref} failed (${engineMessage((err as AgentError).cause ?? err)}); using the local copy`;
        this.log.warn({ image: ref }, warning);
        return { usedLocal: true, warning };
      }
      throw new AgentError(
        'IMAGE_PULL_FAILED',
        `image ${ref} could not be pulled and is not present locally: ${engineMessage((err as AgentError).cause ?? err)}`,
      );
    }
  }

  /** Every server container this agent owns, running or not. */
  async listManaged(): Promise<ManagedContainer[]> {
    const list = await this.call('list containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: ownerFilters(this.agentId) }, abortSignal }),
    );
    return list.map((c) => ({
      id: c.Id,
      serverId: c.Labels[LABEL_SERVER_ID] ?? '',
      state: c.State,
      labels: c.Labels,
    }));
  }

  async findContainer(serverId: string, role: 'server' | 'install' = 'server'): Promise<ManagedContainer | undefined> {
    const list = await this.call('list containers', (abortSignal) =>
      this.docker.listContainers({
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
      const info = await this.call('inspect the container', (abortSignal) =>
        this.docker.getContainer(containerId).inspect({ abortSignal }),
      );
      if (info.Config.Labels?.[LABEL_MANAGED] !== 'true') return undefined;
      return {
        id: info.Id,
        running: info.State.Running,
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
      const container = await this.call('create the container', (abortSignal) =>
        this.docker.createContainer({ ...options, abortSignal }),
      );
      return container.id;
    } catch (err) {
      if (isConflict((err as AgentError).cause)) {
        throw new AgentError(
          'DOCKER_ERROR',
          `a container named ${options.name} already exists and is not owned by this agent; remove or rename it`,
        );
      }
      throw err;
    }
  }

  async start(containerId: string): Promise<void> {
    try {
      await this.call('start the container', (abortSignal) =>
        this.docker.getContainer(containerId).start({ abortSignal }),
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
    await this.call('update the container limits', (abortSignal) =>
      this.docker.getContainer(containerId).update({ ...resources, abortSignal }),
    );
  }

  /** Sends a signal; a container that is not running is not an error. */
  async kill(containerId: string, signal: string): Promise<void> {
    try {
      await this.call(`send ${signal}`, (abortSignal) =>
        this.docker.getContainer(containerId).kill({ signal, abortSignal }),
      );
    } catch (err) {
      const cause = (err as AgentError).cause as { statusCode?: number } | undefined;
      if (cause?.statusCode === 409 || cause?.statusCode === 404) return;
      throw err;
    }
  }

  async remove(containerId: string): Promise<void> {
    try {
      await this.call('remove the container', (abortSignal) =>
        this.docker.getContainer(containerId).remove({ force: true, v: true, abortSignal }),
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
    const stats = (await this.call('read container stats', (abortSignal) =>
      this.docker.getContainer(containerId).stats({ stream: false, abortSignal } as { stream: false }),
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
    return (await this.call('attach to the container', (abortSignal) =>
      this.docker
        .getContainer(containerId)
        .attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true, abortSignal }),
    )) as unknown as Duplex;
  }

  /** The last lines of the container's log (TTY containers: raw stream). */
  async logTail(containerId: string, lines: number): Promise<Buffer> {
    const out = await this.call('read the container log', (abortSignal) =>
      this.docker
        .getContainer(containerId)
        .logs({ stdout: true, stderr: true, tail: lines, follow: false, abortSignal }),
    );
    return Buffer.isBuffer(out) ? out : Buffer.from(String(out));
  }

  /**
   * Follows the Engine's events for this agent's containers. Reconnects with back-off when the stream ends
   * (a Docker restart); `onReconnect` runs after each reconnection so callers can reconcile what they missed.
   */
  watchEvents(onEvent: (event: ContainerEvent) => void, onReconnect: () => void): { close(): void } {
    let closed = false;
    let current: Readable | undefined;
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      if (closed) return;
      try {
        const stream = (await this.docker.getEvents({
          filters: {
            type: ['container'],
            label: ownerFilters(this.agentId),
            event: ['start', 'die', 'oom', 'destroy'],
          },
        })) as unknown as Readable;
        if (closed) {
          stream.destroy();
          return;
        }
        current = stream;
        if (attempt > 0) onReconnect();
        attempt = 0;
        let pending = '';
        stream.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          let nl = pending.indexOf('\n');
          while (nl >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            nl = pending.indexOf('\n');
            if (line) this.parseEvent(line, onEvent);
          }
        });
        const retry = () => {
          if (current !== stream) return;
          current = undefined;
          schedule();
        };
        stream.on('end', retry);
        stream.on('close', retry);
        stream.on('error', retry);
      } catch (err) {
        this.log.warn({ err: engineMessage(err) }, 'Docker events stream unavailable; retrying');
        schedule();
      }
    };
    const schedule = () => {
      if (closed) return;
      attempt++;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
      timer = setTimeout(() => void connect(), delay);
    };
    void connect();
    return {
      close: () => {
        closed = true;
        clearTimeout(timer);
        current?.destroy();
      },
    };
  }

  private parseEvent(line: string, onEvent: (event: ContainerEvent) => void): void {
    try {
      const raw = JSON.parse(line) as { Action?: string; id?: string; Actor?: { Attributes?: Record<string, string> } };
      const attrs = raw.Actor?.Attributes ?? {};
      const action = raw.Action;
      if (action !== 'start' && action !== 'die' && action !== 'oom' && action !== 'destroy') return;
      const serverId = attrs[LABEL_SERVER_ID];
      if (!serverId || !raw.id) return;
      const exitCode = attrs.exitCode === undefined ? undefined : Number(attrs.exitCode);
      onEvent({ action, containerId: raw.id, serverId, exitCode });
    } catch (err) {
      this.log.debug({ err }, 'ignoring an unparseable Docker event');
    }
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
