import { z } from 'zod';

/**
 * The configuration schema is the type: nothing declares the shape beside it. Every value is parsed once at
 * start-up (file < environment < flags, see load.ts) and the result is frozen. Units are in the names.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

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
  log: z
    .strictObject({
      /**
       * Also write the JSON lines to this file (its directory is created). Rotation: logrotate without
       * copytruncate, then SIGHUP (`systemctl reload`): the agent reopens the file by name (README, "Logs").
       */
      file: z.string().min(1).optional(),
      /** Keep writing to stdout (the journal) when `file` is set. */
      stdout: bool.default(true),
      /** Human-readable lines on stdout: "auto" when stdout is a terminal; the file is always JSON. */
      pretty: z.enum(['auto', 'always', 'never']).default('auto'),
    })
    .prefault({}),
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
      /**
       * The bridge network install containers join; created when missing. Installs download games, so it has
       * outbound access, but it is not the game network: an install script never shares a segment with tenants'
       * running servers.
       */
      installNetwork: z.string().min(1).default('ctrl-alt-play-install'),
      pullTimeoutMs: positiveInt.default(15 * 60_000),
      /** Calls to the Engine that take longer than this are treated as DOCKER_UNAVAILABLE. */
      apiTimeoutMs: positiveInt.default(20_000),
      /** Period of the reachability ping behind /health, /ready and /metrics (its time-out: 3 s or apiTimeoutMs). */
      healthIntervalMs: positiveInt.default(5_000),
      /**
       * Credentials of private registries by host ("registry.example.com", "ghcr.io"; Docker Hub is "docker.io"),
       * sent with pulls. `passwordFile` is read at each pull, so a rotated secret needs no restart.
       */
      registries: z
        .record(
          z.string().min(1),
          z
            .strictObject({
              username: z.string().min(1),
              password: z.string().min(1).optional(),
              passwordFile: z.string().min(1).optional(),
            })
            .refine((r) => (r.password === undefined) !== (r.passwordFile === undefined), {
              message: 'give exactly one of password and passwordFile',
            }),
        )
        .default({}),
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
    .prefault({}),
  allocations: z
    .strictObject({
      /**
       * Ports a server created without `ports` and without a numeric SERVER_PORT gets one from (TCP and UDP),
       * persisted in its spec (PROTOCOL.md §4.6). Empty: no pool, such a server publishes nothing.
       */
      pool: z.array(portRange).max(256).default([]),
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
      /**
       * Glob patterns no file action may touch (picomatch: braces, classes, `**`). A pattern without `/` matches a
       * name at any depth, one with `/` is anchored at the server root; `!pattern` re-allows (last match wins).
       */
      denylist: z.array(z.string().min(1)).default([]),
      /** Recursive operations (delete, copy, archives) refuse trees nested deeper than this (2 descriptors/level). */
      walkMaxDepth: positiveInt.default(128),
      /** Recursive operations refuse trees with more entries than this. */
      walkMaxEntries: positiveInt.default(1_000_000),
      /** Background file operations (copies, archives) running at once per server; more → SERVER_BUSY. */
      backgroundPerServer: positiveInt.default(4),
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
  /** SteamCMD (PROTOCOL.md §4.6): workshop items for install_mod and `app_update` for install steps that name it. */
  steam: z
    .strictObject({
      /**
       * The SteamCMD image, run as a short-lived helper under the install container's restrictions. Pulled like
       * any image (docker.registries apply); a leading "~" means local only, for hosts without a registry.
       */
      image: z.string().min(1).max(512).default('steamcmd/steamcmd:latest'),
      /**
       * One SteamCMD run gets this long before it is killed. Generous: an `app_update` of a large dedicated server
       * is tens of GB, and SteamCMD updates itself first; a hung login is still ended within the hour.
       */
      timeoutMs: positiveInt.default(60 * 60_000),
      /**
       * Output of one run shown in the console and install log; the rest is still scanned for failure lines but
       * not kept. SteamCMD redraws its progress with CRs, so a big download is thousands of lines.
       */
      maxOutputBytes: positiveInt.default(256 * 1024),
      /**
       * install_mod downloads through SteamCMD running at once per server; more are refused with SERVER_BUSY. Each
       * is a container with its own memory floor (servers.installMemoryMb), so a panel installing a collection must
       * not start one per item at once.
       */
      maxRunsPerServer: z.coerce.number().int().min(1).max(16).default(2),
    })
    .prefault({}),
  ws: z
    .strictObject({
      /** Origins allowed to open /api/ws from a browser; empty: any request with an Origin is refused. */
      allowedOrigins: z.array(z.string().min(1)).default([]),
      /** Authenticated sockets. Sockets still waiting for their auth frame have their own cap below. */
      maxConnections: positiveInt.default(100),
      /**
       * Sockets upgraded without credentials and not yet authenticated. When full, the oldest waiting socket is
       * closed with 1013 to make room, so a flood of idle sockets delays a real client by at most its auth
       * round trip instead of locking it out; each also has authTimeoutMs to authenticate.
       */
      maxUnauthenticated: positiveInt.default(32),
      /**
       * Largest frame before authentication, and for ticket (browser) sockets, whose actions are console lines
       * (at most 4096 UTF-16 units, so at most 12 KiB of UTF-8) and power: the ws maxPayload, checked from each
       * frame header as data arrives. Node-token sockets get the HTTP body limit after authenticating (§6.5).
       */
      maxPreAuthFrameBytes: positiveInt.default(16 * 1024),
      /**
       * Budget of every inbound frame (commands, subscribe, unsubscribe, ping, auth, and protocol pings) per
       * socket, as a token bucket. A frame over budget gets RATE_LIMITED; as many refusals again (the same
       * bucket shape) close the socket with 4429. Commands also spend commandsPerSecond.
       */
      framesPerSecond: positiveInt.default(50),
      frameBurst: positiveInt.default(100),
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
      /** A game query (create_server `query`) that has no answer within this is a failure. */
      queryTimeoutMs: z.coerce.number().int().min(500).max(30_000).default(3000),
      /** Game queries in flight at once across all servers; the rest wait their turn (one per server at most). */
      queryConcurrency: z.coerce.number().int().min(1).max(64).default(8),
      /**
       * "host:port" of a listener of its own for GET /metrics (e.g. "127.0.0.1:9464"); when unset, /metrics is
       * served on the main listener. Prometheus scrapes it without the panel's listener, TLS or rate limits.
       */
      listen: z
        .string()
        .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'must be "host:port", e.g. "127.0.0.1:9464"')
        .optional(),
      /** /metrics asks for the node token (Bearer). Turning it off is only allowed on a listener of its own. */
      auth: bool.default(true),
    })
    .prefault({})
    .refine((m) => m.auth || m.listen !== undefined, {
      message: 'auth: false needs metrics.listen: the main listener never serves /metrics without the token',
    }),
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
