import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { AgentConfig } from '../../config/schema.js';
import { AgentError, toAgentError } from '../../errors.js';
import { sniffFormat } from '../../files/archive-formats.js';
import { displayPath, toSegments } from '../../files/path-rules.js';
import type { ServerFiles } from '../../files/server-files.js';
import { anyAddress, publicAddressesOnly } from '../../mods/address-policy.js';
import { safeDownload } from '../../mods/safe-download.js';
import { workshopIdFromSteamUrl } from '../../mods/steam-url.js';
import type { WebhookOutbox } from '../../mods/webhook-outbox.js';
import type { ServerContext } from '../../servers/context.js';
import type { FileAccess } from '../../servers/file-access.js';
import type { HelperContext } from '../../servers/helper-container.js';
import type { Server } from '../../servers/server.js';
import {
  helperPath,
  isSteamId,
  runSteamCmd,
  workshopContentPath,
  workshopDownloadArgs,
} from '../../servers/steamcmd.js';

/**
 * The background half of install_mod (PROTOCOL.md §4.3): a SteamCMD run or a direct download into the server's
 * files, then the outcome as an operation_completed event and a panel webhook. The action (mods.ts) validates the
 * payload and replies; this owns the work after the reply and the per-server bound on SteamCMD runs.
 */

/** What a mod install reads of the domain: a helper container's context (SteamCMD), the bus, the disk figures. */
export type ModContext = HelperContext & Pick<ServerContext, 'bus' | 'disk'>;

export interface ModInstallerDeps {
  ctx: ModContext;
  access: FileAccess;
  webhooks: WebhookOutbox | undefined;
  config: AgentConfig['mods'];
  userAgent: string;
}

/** One accepted install, as the action resolved it. */
export interface ModInstallRequest {
  serverId: string;
  workshopId: string;
  appId: string;
  target: string;
  url: string | undefined;
  sha256: string | undefined;
}

const MIB = 1024 * 1024;

export class ModInstaller {
  /** SteamCMD downloads running per server (steam.maxRunsPerServer). */
  private readonly steamRuns = new Map<string, number>();
  private readonly ctx: ModContext;
  private readonly access: FileAccess;

  constructor(private readonly deps: ModInstallerDeps) {
    this.ctx = deps.ctx;
    this.access = deps.access;
  }

  /**
   * Checks what belongs in the reply (a throw is the action's error), then runs the install in the background and
   * reports its outcome; returns the operation id the reply carries.
   */
  start(server: Server, request: ModInstallRequest): string {
    const { serverId, workshopId, appId, target, url } = request;
    const operationId = `op_${randomBytes(8).toString('hex')}`;
    // PROTOCOL.md §4.3: a steam:// URL, or none, is SteamCMD's; anything else is downloaded directly.
    const work =
      !url || url.startsWith('steam://')
        ? this.steamInstall(server, url, appId, workshopId, target, operationId)
        : this.download(server, url, target, request.sha256);
    void work.then(
      (data) => this.finish(server, serverId, workshopId, operationId, { success: true, data }),
      (err: unknown) =>
        this.finish(server, serverId, workshopId, operationId, { success: false, error: toAgentError(err) }),
    );
    return operationId;
  }

  /**
   * The synchronous half of a SteamCMD install (checks that belong in the reply, and a slot), then the download
   * in the background: into a staging directory of its own in the server directory, so that only the item
   * reaches targetPath and a failed run leaves nothing half-written there.
   */
  private steamInstall(
    server: Server,
    url: string | undefined,
    appId: string,
    workshopId: string,
    target: string,
    operationId: string,
  ): Promise<Record<string, unknown>> {
    if (!isSteamId(workshopId)) {
      throw new AgentError('INVALID_PAYLOAD', `workshopId: "${workshopId}" is not a Steam workshop id (a number)`);
    }
    if (!isSteamId(appId)) throw new AgentError('CONFIG_INVALID', `the Steam app id "${appId}" is not a number`);
    const named = url ? workshopIdFromSteamUrl(url) : undefined;
    if (named !== undefined && named !== workshopId) {
      throw new AgentError('INVALID_PAYLOAD', `the URL names workshop item ${named}, the payload ${workshopId}`);
    }
    if (toSegments(target, 'targetPath').length === 0) {
      throw new AgentError('INVALID_PATH', 'targetPath: a workshop item needs a directory of its own, not the root');
    }
    const running = this.steamRuns.get(server.id) ?? 0;
    if (running >= this.ctx.config.steam.maxRunsPerServer) {
      throw new AgentError(
        'SERVER_BUSY',
        `${running} SteamCMD downloads are already running for this server; try again when one has finished`,
      );
    }
    this.steamRuns.set(server.id, running + 1);
    return this.downloadWithSteam(server, appId, workshopId, target, `.steamcmd-${operationId}`).finally(() => {
      const left = (this.steamRuns.get(server.id) ?? 1) - 1;
      if (left > 0) this.steamRuns.set(server.id, left);
      else this.steamRuns.delete(server.id);
    });
  }

  private async downloadWithSteam(server: Server, appId: string, workshopId: string, target: string, staging: string) {
    const files = this.access.files(server);
    await files.createDirectory(staging);
    try {
      const show = (lines: string[]) => server.console.append('install', lines);
      show([`[agent] steamcmd +workshop_download_item ${appId} ${workshopId}`]);
      await runSteamCmd(this.ctx, server, {
        args: workshopDownloadArgs(helperPath(staging), appId, workshopId),
        show,
      });
      const content = `${staging}/${workshopContentPath(appId, workshopId)}`;
      // Exit 0 and no failure line, but nothing downloaded: still a failure (SteamCMD has more quiet ways to fail).
      const info = await files.fileInfo(content).catch((err: unknown) => {
        if (err instanceof AgentError && err.code === 'FILE_NOT_FOUND') return undefined;
        throw err;
      });
      if (info?.type !== 'directory' || info.symlink) {
        throw new AgentError('DOCKER_ERROR', `steamcmd finished without ${workshopContentPath(appId, workshopId)}`);
      }
      await files.sanitize(staging, 'targetPath');
      // SteamCMD wrote past the quota checks of the file API: the disk limit is checked on a fresh figure.
      const limitMb = server.spec.limits.disk;
      if (limitMb > 0 && (await this.ctx.disk.refresh(server.id, server.dataDir)).bytes > limitMb * MIB) {
        throw new AgentError('DISK_LIMIT', `the workshop item does not fit in the server's ${limitMb} MiB disk limit`);
      }
      const placed = await placeInto(files, content, target);
      return { targetPath: displayPath(toSegments(target, 'targetPath')), via: 'steamcmd', entries: placed };
    } finally {
      await files
        .delete(staging)
        .catch((err) => server.log.warn({ err, staging }, 'could not remove SteamCMD staging'));
      // The staging tree was never counted by the file API; the next quota check starts from a fresh figure.
      void this.ctx.disk.refresh(server.id, server.dataDir).catch(() => undefined);
    }
  }

  private async download(server: Server, url: string, target: string, sha256: string | undefined) {
    const files = this.access.files(server);
    await files.ensureDirectory(target, 'targetPath');
    const targetPath = displayPath(toSegments(target, 'targetPath'));
    const name = path.posix.basename(new URL(url).pathname) || 'mod.bin';
    const fileName = `${targetPath === '/' ? '' : targetPath}/${name}`;
    const hash = sha256 ? createHash('sha256') : undefined;
    const head: Buffer[] = [];
    let headBytes = 0;
    // Written like every other file: a temporary beside the target, renamed only once the checksum matched.
    const { size: bytes } = await files.writeAtomic(
      fileName,
      'targetPath',
      async (out, headroom) => {
        let reported = 0;
        const written = await safeDownload(url, out, {
          addressPolicy: this.deps.config.allowPrivateAddresses ? anyAddress : publicAddressesOnly,
          allowHttp: this.deps.config.allowHttp,
          maxBytes: Math.min(this.deps.config.maxDownloadBytes, headroom),
          maxRedirects: 5,
          timeoutMs: 60_000,
          userAgent: this.deps.userAgent,
          onChunk: (chunk) => {
            hash?.update(chunk);
            if (headBytes < 512) {
              head.push(chunk.subarray(0, 512 - headBytes));
              headBytes += Math.min(chunk.length, 512 - headBytes);
            }
          },
          onProgress: (done, total) => {
            if (!total || done - reported < total / 10) return;
            reported = done;
            this.ctx.bus.publish('install_progress', server.id, {
              phase: 'install',
              message: 'downloading mod',
              percent: Math.round((done / total) * 100),
            });
          },
        });
        if (hash && hash.digest('hex') !== sha256?.toLowerCase()) {
          throw new AgentError('INVALID_PAYLOAD', 'sha256 does not match the download');
        }
        return written;
      },
      { fsync: false },
    );
    if (sniffFormat(Buffer.concat(head), name)) {
      const result = await this.access.archiver(server).extract(fileName, target);
      await files.delete(fileName);
      return { targetPath, bytes, ...result };
    }
    return { targetPath, bytes, file: fileName };
  }

  private async finish(
    server: Server,
    serverId: string,
    workshopId: string,
    operationId: string,
    outcome: { success: true; data: Record<string, unknown> } | { success: false; error: AgentError },
  ) {
    const status = outcome.success ? 'COMPLETED' : 'FAILED';
    if (!outcome.success) server.reportFailure('mod install', outcome.error);
    this.ctx.bus.publish('operation_completed', server.id, {
      operationId,
      action: 'install_mod',
      success: outcome.success,
      workshopId,
      status,
      ...(outcome.success
        ? { data: outcome.data }
        : { error: { code: outcome.error.code, message: outcome.error.message } }),
    });
    // serverId and workshopId exactly as received: the panel matches them against its database id.
    await this.deps.webhooks?.enqueue({
      serverId,
      workshopId,
      status,
      ...(outcome.success ? {} : { error: outcome.error.message }),
    });
  }
}

/**
 * Moves a downloaded item into `target` (all within the server directory, through the sandbox). A new target is
 * one rename. An existing target directory is merged into, entry by entry, each replacing its namesake: targetPath
 * may be a shared folder (`addons`) whose other mods must survive; an update of the same item replaces its own
 * files and folders.
 */
async function placeInto(files: ServerFiles, from: string, target: string): Promise<number> {
  const existing = await files.fileInfo(target).catch((err: unknown) => {
    if (err instanceof AgentError && err.code === 'FILE_NOT_FOUND') return undefined;
    throw err;
  });
  if (!existing) {
    await files.move(from, target, ['targetPath', 'targetPath']);
    return 1;
  }
  if (existing.type !== 'directory' || existing.symlink) {
    throw new AgentError('NOT_A_DIRECTORY', `targetPath: ${existing.path} exists and is not a directory`);
  }
  const { files: entries, truncated } = await files.list(from);
  if (truncated) throw new AgentError('FILE_TOO_LARGE', 'the workshop item has more top-level entries than a listing');
  for (const entry of entries) {
    const destination = `${target}/${entry.name}`;
    if (await files.fileInfo(destination).catch(() => undefined)) await files.delete(destination);
    await files.move(`${from}/${entry.name}`, destination, ['targetPath', 'targetPath']);
  }
  return entries.length;
}
