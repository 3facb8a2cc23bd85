import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseImageRef } from '../docker/image-ref.js';
import { buildInstallContainerOptions, INSTALL_MOUNT } from '../docker/install-options.js';
import { AgentError } from '../errors.js';
import { type HelperContext, helperContainerBase } from './helper-container.js';
import { LineSplitter } from './line-splitter.js';
import type { Server } from './server.js';
import { SteamCmdOutput } from './steamcmd-output.js';

/**
 * SteamCMD (PROTOCOL.md §4.6) in a short-lived helper container: the image of `steam.image`, pulled like any
 * image, run under the install container's rules (install-options.ts: CapDrop ALL and the installer's few
 * capabilities, no-new-privileges, PID/CPU/memory limits, the install network), with the server directory at
 * /mnt/server. The helper is removed when it ends, whatever happened (runtime.runToCompletion).
 *
 * The command line is an argument list for the image's own entrypoint (`steamcmd` in steamcmd/steamcmd), never a
 * shell string: a workshop id or app id cannot smuggle a second command, and both are checked to be numbers.
 * `+force_install_dir` comes before `+login`, as SteamCMD asks; workshop content then lands in
 * `<dir>/steamapps/workshop/content/<appId>/<workshopId>`.
 */

/** The environment keys that name a server's Steam app id, in the order PROTOCOL.md §4.3 gives. */
export const STEAM_APP_ID_KEYS = ['STEAM_APP_ID', 'SRCDS_APPID', 'APP_ID'] as const;

/** Steam app ids and published file ids are unsigned integers (32 and 64 bits). */
const STEAM_ID = /^\d{1,20}$/;

export function isSteamId(value: string): boolean {
  return STEAM_ID.test(value);
}

/** The first app id the server's environment names, or undefined. */
export function steamAppIdFrom(environment: Record<string, string>): string | undefined {
  for (const key of STEAM_APP_ID_KEYS) {
    const value = environment[key];
    if (value) return value;
  }
  return undefined;
}

export function workshopDownloadArgs(installDir: string, appId: string, workshopId: string): string[] {
  return [
    '+force_install_dir',
    installDir,
    '+login',
    'anonymous',
    '+workshop_download_item',
    appId,
    workshopId,
    '+quit',
  ];
}

export function appUpdateArgs(installDir: string, appId: string): string[] {
  return ['+force_install_dir', installDir, '+login', 'anonymous', '+app_update', appId, 'validate', '+quit'];
}

/** Where SteamCMD puts a workshop item below its install dir. */
export function workshopContentPath(appId: string, workshopId: string): string {
  return `steamapps/workshop/content/${appId}/${workshopId}`;
}

/**
 * How an install step names SteamCMD, and so what the agent does with it:
 *  - `instead`: the step's entrypoint is steamcmd. The script cannot run as a shell script there (it would be
 *    `steamcmd -c <script>`), so the agent's `app_update` is the whole step;
 *  - `before`: the step's install image is a SteamCMD image (a path component `steamcmd`: steamcmd/steamcmd,
 *    cm2network/steamcmd, ghcr.io/x/steamcmd). The agent's `app_update` runs first, then the script as usual for
 *    what it does besides (configs, symlinks); a script that calls steamcmd again finds the app installed and
 *    only validates it.
 * A script that merely calls steamcmd does not count: such scripts (Pterodactyl's SRCDS eggs) fetch SteamCMD
 * themselves into the server directory and run it with their own arguments, and running ours too would download
 * the game twice, possibly into two places.
 */
export function steamCmdStep(install: {
  container: string | undefined;
  entrypoint: string;
}): 'instead' | 'before' | undefined {
  if (path.posix.basename(install.entrypoint.trim()) === 'steamcmd') return 'instead';
  if (!install.container) return undefined;
  const repository = parseImageRef(install.container)
    .ref.replace(/@.*$/, '')
    .replace(/:[^/]*$/, '');
  return repository.toLowerCase().split('/').includes('steamcmd') ? 'before' : undefined;
}

export interface SteamCmdRun {
  /** SteamCMD's `+command` line (workshopDownloadArgs, appUpdateArgs). */
  args: string[];
  /** Output lines to show (the console, the install log), at most steam.maxOutputBytes of them. */
  show: (lines: string[]) => void;
  /** The exit code, for records that keep one (get_install_log). */
  onExit?: (exitCode: number) => void;
}

/**
 * One SteamCMD run. Resolves when SteamCMD exited 0 and printed no failure line; otherwise throws DOCKER_ERROR
 * with the reason (the failure line, or the exit code) and the last lines, or TIMEOUT after steam.timeoutMs.
 */
export async function runSteamCmd(ctx: HelperContext, server: Server, run: SteamCmdRun): Promise<void> {
  const { steam } = ctx.config;
  const pull = await ctx.runtime.pullImage(steam.image, () => undefined);
  if (pull.warning) server.notice('warning', pull.warning);
  const output = new SteamCmdOutput(steam.maxOutputBytes, run.show);
  const splitter = new LineSplitter();
  const options = buildInstallContainerOptions({
    ...(await helperContainerBase(ctx, server)),
    // Unique per run: two mods of one server may download at once (steam.maxRunsPerServer).
    name: `ctrl-alt-play-steamcmd-${server.id}-${randomBytes(4).toString('hex')}`,
    image: parseImageRef(steam.image).ref,
    entrypoint: 'steamcmd',
    cmd: run.args,
    // None of the server's variables: SteamCMD needs none, and a download helper has no business seeing them.
    environment: {},
  });
  let exitCode: number;
  try {
    exitCode = await ctx.runtime.runToCompletion(
      options,
      (chunk) => output.push(splitter.push(chunk)),
      steam.timeoutMs,
    );
  } catch (err) {
    if (err instanceof AgentError && err.code === 'TIMEOUT') {
      throw new AgentError('TIMEOUT', `steamcmd did not finish within ${Math.round(steam.timeoutMs / 1000)} s`, {
        lastLines: output.lastLines(),
      });
    }
    throw err;
  }
  output.push(splitter.flush());
  output.finish();
  run.onExit?.(exitCode);
  if (exitCode !== 0 || output.failure) {
    const reason = output.failure ? `steamcmd reported: ${output.failure}` : `steamcmd exited with code ${exitCode}`;
    throw new AgentError('DOCKER_ERROR', reason, { exitCode, lastLines: output.lastLines() });
  }
}

/** The SteamCMD install directory for a directory below the server's root (given as a relative POSIX path). */
export function helperPath(relative: string): string {
  return path.posix.join(INSTALL_MOUNT, relative);
}

/**
 * The install step's SteamCMD part (see steamCmdStep): `app_update <appId> validate` straight into the server
 * directory, with the app id from the server's environment. Ownership and special files are fixed afterwards by
 * the install's sanitize walk, as for a script.
 */
export async function runSteamAppUpdate(
  ctx: HelperContext,
  server: Server,
  show: (lines: string[]) => void,
  onExit: (exitCode: number) => void,
): Promise<void> {
  const appId = steamAppIdFrom(server.spec.environment);
  if (!appId || !isSteamId(appId)) {
    throw new AgentError(
      'CONFIG_INVALID',
      `the install step runs SteamCMD but ${appId ? `the app id "${appId}" is not a number` : `the environment names no app id (${STEAM_APP_ID_KEYS.join(', ')})`}`,
    );
  }
  show([`[agent] steamcmd +app_update ${appId} validate`]);
  await runSteamCmd(ctx, server, { args: appUpdateArgs(INSTALL_MOUNT, appId), show, onExit });
}
