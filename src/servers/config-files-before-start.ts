import { applyConfigFiles, DEFAULT_MAX_CONFIG_FILES } from '../files/config-files/apply-config-files.js';
import type { ServerContext } from './context.js';
import type { FileAccess } from './file-access.js';
import type { Server } from './server.js';
import { resolveStartup } from './spec.js';

/**
 * The config-file step as the start path's `beforeStart` hook (ServerContext): the server's rules, its first
 * port (default ip and port), memory and container environment, the game network's gateway when a rule asks
 * for it. A skipped file is a warning notice (daemon_message) and the start goes on, as with Wings: a game with
 * an unreadable config file still starts with the file it has.
 */
export function configFilesBeforeStart(
  ctx: Pick<ServerContext, 'config' | 'runtime'>,
  access: FileAccess,
): (server: Server) => Promise<void> {
  return async (server) => {
    const rules = server.spec.configFiles ?? [];
    if (rules.length === 0) return;
    try {
      const resolved = resolveStartup(server.spec, {
        ip: ctx.config.servers.defaultIp,
        timezone: ctx.config.servers.timezone,
      });
      const first = resolved.ports[0];
      // One inspect per start, and only when a template names the gateway: the network may have been re-created.
      const wantsGateway = rules.some((rule) => JSON.stringify(rule.find).includes('config.docker'));
      const gateway = wantsGateway
        ? await ctx.runtime.networkGateway(ctx.config.docker.network).catch((err: unknown) => {
            server.log.warn({ err }, 'could not read the game network gateway');
            return undefined;
          })
        : undefined;
      const result = await applyConfigFiles(
        access.files(server),
        rules,
        {
          port: first?.internal,
          ip: first?.ip ?? ctx.config.servers.defaultIp,
          memoryMb: server.spec.limits.memory,
          environment: resolved.environment,
          gateway,
        },
        { maxFiles: DEFAULT_MAX_CONFIG_FILES, maxBytes: access.config.readMaxBytes },
      );
      for (const skipped of result.skipped) {
        server.notice('warning', `config file ${skipped.path} was not rewritten: ${skipped.reason}`);
      }
      for (const warning of result.warnings) server.notice('warning', `config files: ${warning}`);
      server.log.debug({ written: result.written }, 'config files rewritten');
    } catch (err) {
      server.notice('warning', `config files were not rewritten: ${(err as Error).message}`);
    }
  };
}
