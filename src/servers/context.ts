import type { Logger } from 'pino';
import type { AgentConfig } from '../config/schema.js';
import type { DockerRuntime } from '../docker/runtime.js';
import type { EventBus } from '../events/bus.js';
import type { DiskUsageTracker } from './disk-usage.js';
import type { ServerRegistry } from './registry.js';
import type { Server } from './server.js';
import type { ServerStore } from './store.js';

/** What the server domain needs from the rest of the agent, built once in main.ts and passed in. */
export interface ServerContext {
  config: AgentConfig;
  agentId: string;
  runtime: DockerRuntime;
  registry: ServerRegistry;
  store: ServerStore;
  bus: EventBus;
  log: Logger;
  /** Cached disk use per server (keyed by canonical id); shared by quota checks and metrics. */
  disk: DiskUsageTracker;
  /** Host facts read once from the Engine; io weight is absent on some cgroup v2 hosts. */
  host: { ioWeight: boolean };
  /** The uid:gid game servers run as and own their files as, or undefined to keep the image's user. */
  runAs: { uid: number; gid: number } | undefined;
  /**
   * Work before every start, after the container exists (the config-file rewrite, src/files/config-files): set by
   * main.ts, since it needs FileAccess, which is built after the context. Never throws; it reports through the
   * server's notices.
   */
  beforeStart?: ((server: Server) => Promise<void>) | undefined;
}
