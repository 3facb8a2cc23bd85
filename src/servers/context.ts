import type { Logger } from 'pino';
import type { AgentConfig } from '../config/schema.js';
import type { DockerRuntime, HostFacts } from '../docker/runtime.js';
import type { EventBus } from '../events/bus.js';
import type { DiskUsageTracker } from './disk-usage.js';
import type { ServerRegistry } from './registry.js';
import type { ServerStore } from './store.js';

/**
 * Everything the server domain is built from, assembled once in src/agent/domain.ts and never changed after. Only
 * the composition points (ServerManager, the builders in src/agent) hold all of it; every other consumer declares
 * the slice it reads (`Pick<ServerContext, ...>`), so a signature says what a piece of code needs.
 */
export interface ServerContext {
  readonly config: AgentConfig;
  readonly agentId: string;
  readonly runtime: DockerRuntime;
  readonly registry: ServerRegistry;
  readonly store: ServerStore;
  readonly bus: EventBus;
  readonly log: Logger;
  /** Cached disk use per server (keyed by canonical id); shared by quota checks and metrics. */
  readonly disk: DiskUsageTracker;
  /**
   * Host facts from the Engine (io weight is absent on some cgroup v2 hosts), read at the first call that needs
   * them and kept: the agent may start before Docker does, so they are a value awaited, not a field filled in later.
   */
  readonly hostFacts: () => Promise<HostFacts>;
  /** The uid:gid game servers run as and own their files as, or undefined to keep the image's user. */
  readonly runAs: { uid: number; gid: number } | undefined;
}
