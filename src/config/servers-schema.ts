import { z } from 'zod';
import { bool, positiveInt } from './schema-values.js';

/** The domain (src/servers): how game servers run and are bounded, and the pool their ports come from. */

/**
 * One range of the ports pool: "25565-25600", "27015" (a single port) or {from, to?, ip?}. `ip` is the host
 * address the pool's ports bind to (servers.defaultIp when absent).
 */
const portRange = z
  .union([
    z
      .string()
      .regex(/^\s*\d{1,5}\s*(-\s*\d{1,5}\s*)?$/, 'must be "from-to" or a single port')
      .transform((s) => {
        const [from, to = from] = s.split('-').map((n) => Number(n.trim()));
        return { from: from as number, to: to as number, ip: undefined as string | undefined };
      }),
    z.strictObject({
      from: z.coerce.number().int(),
      to: z.coerce.number().int().optional(),
      ip: z.string().min(1).max(64).optional(),
    }),
  ])
  .transform((r) => ({ from: r.from, to: r.to ?? r.from, ip: r.ip }))
  .refine((r) => r.from >= 1 && r.to <= 65535 && r.from <= r.to, 'a range must lie in 1-65535 with from <= to');

export const serversSchema = z
  .strictObject({
    /**
     * The uid:gid game servers run as and own their files as. "auto": 988:988 (the yolks "container" user)
     * when the agent runs as root, else the agent's own uid:gid; "image": the image's own USER.
     */
    user: z
      .string()
      .regex(/^(auto|image|\d+:\d+)$/, 'must be "auto", "image" or "uid:gid"')
      .default('auto'),
    /** PID cap per container: stops fork bombs without bothering real game servers. */
    pidsLimit: positiveInt.default(2048),
    tmpSizeMb: positiveInt.default(256),
    /**
     * Floors of an install container's limits: the server's own limits apply when larger. Installers unpack
     * and apt-get in one go, which small game limits (or "0", unlimited) would starve or leave unbounded.
     */
    installMemoryMb: positiveInt.default(1024),
    installCpuPercent: positiveInt.default(100),
    /**
     * Bounds of the walk after an install (tree-sanitize.ts): entries visited, and directory depth. Each level
     * holds two descriptors open, so the depth also bounds the walk's open handles (2 x depth).
     */
    sanitizeMaxEntries: positiveInt.default(1_000_000),
    sanitizeMaxDepth: z.coerce.number().int().min(1).max(256).default(64),
    /** The kept output of a server's last install (get_install_log): its last this-many bytes, on disk. */
    installLogMaxBytes: positiveInt.default(1024 * 1024),
    /** Run Docker's init as PID 1 to reap zombies and forward signals. */
    init: bool.default(false),
    /** Address published ports bind to when the payload names none. */
    defaultIp: z.string().min(1).default('0.0.0.0'),
    timezone: z.string().min(1).default('UTC'),
    /** Start servers whose container stopped while the agent was down but which were meant to run. */
    bootRestore: bool.default(true),
    /**
     * Servers this node holds at most; create_server beyond it is refused with INSUFFICIENT_RESOURCES. Each known
     * server costs the agent memory (console history, attach stream) and the Engine two proxies per port.
     */
    max: positiveInt.default(250),
    /**
     * Installs (pull, install script, container create) and boot restores running at once; the rest wait in
     * line. At 200 servers, unbounded creates made the Engine answer some calls after 20 s (issue 13).
     */
    createConcurrency: z.coerce.number().int().min(1).max(64).default(4),
    /** Reattaches (inspect, log tail, attach) after a restart of the agent running at once, after /ready. */
    reattachConcurrency: z.coerce.number().int().min(1).max(64).default(8),
    /**
     * Period of the reconcile of every known server against one container list: a state the events stream missed
     * (a start the Engine answered after the call's deadline) is corrected within this long.
     */
    reconcileIntervalMs: positiveInt.default(30_000),
    autoRestart: bool.default(true),
    autoRestartMax: positiveInt.default(3),
    autoRestartWindowMs: positiveInt.default(10 * 60_000),
    /** Second rung of the stop ladder: after a stop command, how long the signal gets before SIGKILL. */
    signalGraceMs: positiveInt.default(10_000),
    consoleHistoryLines: z.coerce.number().int().min(100).max(100_000).default(10_000),
    /** The console history's size cap (characters), besides its line cap: 10,000 long lines are not 640 MB. */
    consoleHistoryBytes: positiveInt.default(8 * 1024 * 1024),
    /** Console lines per second that become events; the rest stay in the history (flood limit). */
    consoleFloodLinesPerSecond: positiveInt.default(5000),
    /** Console output read per second per server; beyond it the game blocks on its own writes. */
    consoleMaxBytesPerSecond: positiveInt.default(4 * 1024 * 1024),
  })
  .prefault({});

export const allocationsSchema = z
  .strictObject({
    /**
     * Ports a server created without `ports` and without a numeric SERVER_PORT gets one from (TCP and UDP),
     * persisted in its spec (PROTOCOL.md §4.6). Empty: no pool, such a server publishes nothing.
     */
    pool: z.array(portRange).max(256).default([]),
  })
  .prefault({});
