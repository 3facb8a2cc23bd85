import { z } from 'zod';
import { AgentError } from '../../errors.js';
import { toSegments } from '../../files/path-rules.js';
import type { Server } from '../../servers/server.js';
import { steamAppIdFrom, workshopContentPath } from '../../servers/steamcmd.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';
import { ModInstaller, type ModInstallerDeps } from './mod-installer.js';

/**
 * install_mod (PROTOCOL.md §4.3): acknowledged at once, downloaded in the background (ModInstaller), reported to
 * the panel.
 */

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

export function modActions(deps: ModInstallerDeps): ActionDefinition[] {
  const installer = new ModInstaller(deps);
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
        deps.access.checkAllowed(server, target, 'targetPath');
        toSegments(target, 'targetPath'); // refuse a bad path now, not in the background
        const url = p.downloadUrl ?? p.modUrl;
        const operationId = installer.start(server, { serverId, workshopId, appId, target, url, sha256: p.sha256 });
        return { message: 'install accepted', data: { serverId, workshopId, status: 'installing', operationId } };
      },
    }),
  ];
}
