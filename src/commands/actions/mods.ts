import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import type { AgentConfig } from '../../config/schema.js';
import { AgentError, toAgentError } from '../../errors.js';
import { sniffFormat } from '../../files/archive-formats.js';
import { displayPath, toSegments } from '../../files/path-rules.js';
import { anyAddress, publicAddressesOnly } from '../../mods/address-policy.js';
import { safeDownload } from '../../mods/safe-download.js';
import type { WebhookOutbox } from '../../mods/webhook-outbox.js';
import type { ServerContext } from '../../servers/context.js';
import type { FileAccess } from '../../servers/file-access.js';
import type { Server } from '../../servers/server.js';
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

const APP_ID_KEYS = ['STEAM_APP_ID', 'SRCDS_APPID', 'APP_ID'];

/** payload.appId, then the server's environment, then the configured image → app id map. */
export function resolveAppId(
  server: Server,
  given: string | undefined,
  imageMap: Record<string, string>,
): string | undefined {
  if (given) return given;
  for (const key of APP_ID_KEYS) {
    const value = server.spec.environment[key];
    if (value) return value;
  }
  return imageMap[server.spec.image.replace(/^~/, '')];
}

export function modActions(deps: {
  ctx: ServerContext;
  access: FileAccess;
  webhooks: WebhookOutbox | undefined;
  config: AgentConfig['mods'];
  userAgent: string;
}): ActionDefinition[] {
  const { ctx, access } = deps;
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
        const target = p.targetPath ?? `steamapps/workshop/content/${appId}/${workshopId}`;
        access.checkAllowed(server, target, 'targetPath');
        toSegments(target, 'targetPath'); // refuse a bad path now, not in the background
        const operationId = `op_${randomBytes(8).toString('hex')}`;
        const url = p.downloadUrl ?? p.modUrl;
        void install(server, url, target, p.sha256).then(
          (data) => finish(server, serverId, workshopId, operationId, { success: true, data }),
          (err: unknown) =>
            finish(server, serverId, workshopId, operationId, { success: false, error: toAgentError(err) }),
        );
        return { message: 'install accepted', data: { serverId, workshopId, status: 'installing', operationId } };
      },
    }),
  ];

  async function install(server: Server, url: string | undefined, target: string, sha256: string | undefined) {
    if (!url || url.startsWith('steam://')) {
      throw new AgentError('CONFIG_INVALID', 'this node has no SteamCMD; give an https downloadUrl for the mod');
    }
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
