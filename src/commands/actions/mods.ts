import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
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
import type { Server } from '../../servers/server.js';
import {
  helperPath,
  isSteamId,
  runSteamCmd,
  steamAppIdFrom,
  workshopContentPath,
  workshopDownloadArgs,
} from '../../servers/steamcmd.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';

/** install_mod (PROTOCOL.md §4.3): acknowledged at once, downloaded in the background, reported to the panel. */

const idLike = z.union([z.string().min(1).max(64), z.number().int().nonnegative()]).transform(String);

const payload = z
  .object({
    type: z.string().default('steam_workshop'),
    workshopId: idLike.optional(),
    modId: idLike.optional(),
    name: z.string().max(200).optional(),
    downloadUrl: z.string().max(2048).optional(),
    modUrl: z.string().max(2048).optional(),
    version: z.string().max(64).optional(),
    appId: idLike.optional(),
    targetPath: z.string().max(4096).optional(),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/i, 'sha256 must be 64 hex digits')
      .optional(),
  })
  .refine((p) => p.workshopId !== undefined || p.modId !== undefined, { message: 'workshopId is required' });

/** payload.appId, then the server's environment, then the configured image → app id map. */
export function resolveAppId(
  server: Server,
  given: string | undefined,
  imageMap: Record<string, string>,
): string | undefined {
  return given || steamAppIdFrom(server.spec.environment) || imageMap[server.spec.image.replace(/^~/, '')];
}

const MIB = 1024 * 1024;

export function modActions(deps: {
  ctx: ServerContext;
  access: FileAccess;
  webhooks: WebhookOutbox | undefined;
  config: AgentConfig['mods'];
  userAgent: string;
}): ActionDefinition[] {
  const { ctx, access } = deps;
  /** SteamCMD downloads running per server (steam.maxRunsPerServer). */
  const steamRuns = new Map<string, number>();
  return [
    defineAction({
      name: 'install_mod',
      scope: 'server',
      mode: 'ack',
      payload,
      async run({ server, serverId }, p) {
        const workshopId = (p.workshopId ?? p.modId) as string;
        const appId = resolveAppId(server, p.appId, deps.config.appIds);
        if (!appId) {
          throw new AgentError(
            'CONFIG_INVALID',
            'no Steam app id: pass payload.appId, set STEAM_APP_ID in the server environment, or map the image in mods.appIds',
          );
        }
        const target = p.targetPath ?? workshopContentPath(appId, workshopId);
        access.checkAllowed(server, target, 'targetPath');
        toSegments(target, 'targetPath'); // refuse a bad path now, not in the background
        const operationId = `op_${randomBytes(8).toString('hex')}`;
        const url = p.downloadUrl ?? p.modUrl;
        // PROTOCOL.md §4.3: a steam:// URL, or none, is SteamCMD's; anything else is downloaded directly.
        const work =
          !url || url.startsWith('steam://')
            ? steamInstall(server, url, appId, workshopId, target, operationId)
            : install(server, url, target, p.sha256);
        void work.then(
          (data) => finish(server, serverId, workshopId, operationId, { success: true, data }),
          (err: unknown) =>
            finish(server, serverId, workshopId, operationId, { success: false, error: toAgentError(err) }),
        );
        return { message: 'install accepted', data: { serverId, workshopId, status: 'installing', operationId } };
      },
    }),
  ];

  /**
   * The synchronous half of a SteamCMD install (checks that belong in the reply, and a slot), then the download
   * in the background: into a staging directory of its own in the server directory, so that only the item
   * reaches targetPath and a failed run leaves nothing half-written there.
   */
  function steamInstall(
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
    const running = steamRuns.get(server.id) ?? 0;
    if (running >= ctx.config.steam.maxRunsPerServer) {
      throw new AgentError(
        'SERVER_BUSY',
        `${running} SteamCMD downloads are already running for this server; try again when one has finished`,
      );
    }
    steamRuns.set(server.id, running + 1);
    return downloadWithSteam(server, appId, workshopId, target, `.steamcmd-${operationId}`).finally(() => {
      const left = (steamRuns.get(server.id) ?? 1) - 1;
      if (left > 0) steamRuns.set(server.id, left);
      else steamRuns.delete(server.id);
    });
  }

  async function downloadWithSteam(server: Server, appId: string, workshopId: string, target: string, staging: string) {
    const files = access.files(server);
    await files.createDirectory(staging);
    try {
      const show = (lines: string[]) => server.console.append('install', lines);
      show([`[agent] steamcmd +workshop_download_item ${appId} ${workshopId}`]);
      await runSteamCmd(ctx, server, {
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
      if (limitMb > 0 && (await ctx.disk.refresh(server.id, server.dataDir)).bytes > limitMb * MIB) {
        throw new AgentError('DISK_LIMIT', `the workshop item does not fit in the server's ${limitMb} MiB disk limit`);
      }
      const placed = await placeInto(files, content, target);
      return { targetPath: displayPath(toSegments(target, 'targetPath')), via: 'steamcmd', entries: placed };
    } finally {
      await files
        .delete(staging)
        .catch((err) => server.log.warn({ err, staging }, 'could not remove SteamCMD staging'));
      // The staging tree was never counted by the file API; the next quota check starts from a fresh figure.
      void ctx.disk.refresh(server.id, server.dataDir).catch(() => undefined);
    }
  }

  async function install(server: Server, url: string, target: string, sha256: string | undefined) {
    const files = access.files(server);
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
          addressPolicy: deps.config.allowPrivateAddresses ? anyAddress : publicAddressesOnly,
          allowHttp: deps.config.allowHttp,
          maxBytes: Math.min(deps.config.maxDownloadBytes, headroom),
          maxRedirects: 5,
          timeoutMs: 60_000,
          userAgent: deps.userAgent,
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
            ctx.bus.publish('install_progress', server.id, {
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
      const result = await access.archiver(server).extract(fileName, target);
      await files.delete(fileName);
      return { targetPath, bytes, ...result };
    }
    return { targetPath, bytes, file: fileName };
  }

  async function finish(
    server: Server,
    serverId: string,
    workshopId: string,
    operationId: string,
    outcome: { success: true; data: Record<string, unknown> } | { success: false; error: AgentError },
  ) {
    const status = outcome.success ? 'COMPLETED' : 'FAILED';
    if (!outcome.success) server.reportFailure('mod install', outcome.error);
    ctx.bus.publish('operation_completed', server.id, {
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
    await deps.webhooks?.enqueue({
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
