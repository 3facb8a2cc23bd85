import { z } from 'zod';

/**
 * The configuration schema is the type: nothing declares the shape beside it. Every value is parsed once at
 * start-up (file < environment < flags, see load.ts) and the result is frozen. Units are in the names.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z.strictObject({
  /** Bearer token the panel sends (the node's daemon token). Generated and persisted when absent. */
  token: z.string().min(1, 'must not be empty').optional(),
  host: z.string().min(1).default('0.0.0.0'),
  port: port.default(8081),
  /** The panel's node uuid; reported as `nodeId`. Defaults to the host name (load.ts). */
  nodeId: z.string().min(1).max(128),
  dataDir: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  tls: z
    .strictObject({
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .prefault({})
    .refine((t) => Boolean(t.certFile) === Boolean(t.keyFile), 'certFile and keyFile must be given together'),
  http: z
    .strictObject({
      /** The panel forwards 50 MB uploads as base64, which adds a third (PROTOCOL.md §2.3). */
      bodyLimitBytes: positiveInt.default(70 * 1024 * 1024),
      /** Every reply goes out within this deadline; the panel gives up after 30 s (§2.4). */
      replyDeadlineMs: positiveInt.default(25_000),
      /** Failed authentications per address per minute before 429 for a minute. */
      authFailuresPerMinute: positiveInt.default(10),
    })
    .prefault({}),
  panel: z
    .strictObject({
      url: z.url().optional(),
      wsUrl: z.url().optional(),
      apiToken: z.string().min(1).optional(),
      caFile: z.string().min(1).optional(),
      /** Heartbeat of the outbound link, and the silence after which it is closed (4408) and redialled. */
      pingIntervalMs: positiveInt.default(25_000),
      silenceTimeoutMs: positiveInt.default(60_000),
    })
    .prefault({}),
  docker: z
    .strictObject({
      /** Unix socket or tcp:// URL; defaults to DOCKER_HOST, else /var/run/docker.sock. */
      host: z.string().min(1).optional(),
      /** The bridge network every game server joins; created when missing. */
      network: z.string().min(1).default('ctrl-alt-play'),
      pullTimeoutMs: positiveInt.default(15 * 60_000),
      /** Calls to the Engine that take longer than this are treated as DOCKER_UNAVAILABLE. */
      apiTimeoutMs: positiveInt.default(20_000),
    })
    .prefault({}),
  servers: z
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
      /** Run Docker's init as PID 1 to reap zombies and forward signals. */
      init: bool.default(false),
      /** Address published ports bind to when the payload names none. */
      defaultIp: z.string().min(1).default('0.0.0.0'),
      timezone: z.string().min(1).default('UTC'),
      /** Start servers whose container stopped while the agent was down but which were meant to run. */
      bootRestore: bool.default(true),
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
    .prefault({}),
  files: z
    .strictObject({
      readMaxBytes: positiveInt.default(10 * 1024 * 1024),
      downloadMaxBytes: positiveInt.default(50 * 1024 * 1024),
      /** Cap of one streamed upload (PUT …/files/content); the disk limit applies as well. */
      streamUploadMaxBytes: positiveInt.default(8 * 1024 * 1024 * 1024),
      listMaxEntries: positiveInt.default(10_000),
      searchMaxResults: positiveInt.default(1000),
      searchMaxDepth: positiveInt.default(32),
      searchTimeMs: positiveInt.default(10_000),
      /** bg actions (archives, copies) answer `pending` with an operationId after this long. */
      backgroundAfterMs: positiveInt.default(20_000),
      /** Glob patterns (root-relative, `*` within a name, `**` across directories) no file action may touch. */
      denylist: z.array(z.string().min(1)).default([]),
      /** Lifetime of signed download/upload URLs minted by get_file_url. */
      signedUrlTtlSeconds: positiveInt.default(300),
    })
    .prefault({}),
  mods: z
    .strictObject({
      /** Image reference → Steam app id, for servers whose environment names none. */
      appIds: z.record(z.string(), z.string()).default({}),
      /** Downloads may reach private and loopback addresses (only for closed test setups). */
      allowPrivateAddresses: bool.default(false),
      /**
       * Downloads may use plain http (only for closed test setups). A separate switch from allowPrivateAddresses:
       * a LAN mirror needs private addresses, not a channel on which the mod can be swapped before it is extracted.
       */
      allowHttp: bool.default(false),
      maxDownloadBytes: positiveInt.default(2 * 1024 * 1024 * 1024),
    })
    .prefault({}),
  ws: z
    .strictObject({
      /** Origins allowed to open /api/ws from a browser; empty: any request with an Origin is refused. */
      allowedOrigins: z.array(z.string().min(1)).default([]),
      maxConnections: positiveInt.default(100),
      /** Sockets per server for ticket (browser) connections. */
      maxPerServer: positiveInt.default(20),
      commandsPerSecond: positiveInt.default(20),
      commandBurst: positiveInt.default(50),
      authTimeoutMs: positiveInt.default(10_000),
      pingIntervalMs: positiveInt.default(25_000),
      /** A socket silent for this long (no frame, no pong) is dropped. */
      idleTimeoutMs: positiveInt.default(60_000),
      /** A slow consumer with more than this queued is closed with 1013 and must resume. */
      maxQueuedBytes: positiveInt.default(8 * 1024 * 1024),
      /** Lifetime cap of browser tickets minted by create_ws_ticket. */
      maxTicketTtlSeconds: positiveInt.default(900),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /** resource_update period for running servers that have subscribers. */
      resourceIntervalMs: z.coerce.number().int().min(1000).max(60_000).default(2000),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      /** Stop every game server gracefully on SIGTERM instead of leaving them running. */
      stopServers: bool.default(false),
      /** In-flight requests get this long to finish after SIGTERM. */
      graceMs: positiveInt.default(10_000),
    })
    .prefault({}),
});

export type AgentConfig = Readonly<z.infer<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;
