import { mkdir } from 'node:fs/promises';
import { parseImageRef } from '../docker/image-ref.js';
import { buildInstallContainerOptions } from '../docker/install-options.js';
import type { PullProgress } from '../docker/pull-progress.js';
import { AgentError, toAgentError } from '../errors.js';
import { sanitizeTree } from '../files/tree-sanitize.js';
import { type ContainerContext, createServerContainer } from './container.js';
import type { ServerContext } from './context.js';
import { type HelperContext, helperContainerBase } from './helper-container.js';
import type { InstallRecorder } from './install-log.js';
import { LineSplitter } from './line-splitter.js';
import type { Server } from './server.js';
import { runSteamAppUpdate, steamCmdStep } from './steamcmd.js';

/** An install script gets this long before it is killed. */
const INSTALL_TIMEOUT_MS = 30 * 60_000;
/** Pull progress is chatty (one event per layer per tick); keep at most one event per interval. */
const PROGRESS_INTERVAL_MS = 500;

type Phase = 'pull' | 'install' | 'create' | 'done' | 'failed';

/** What an install reads: the helper container's slice, the bus for progress, the user that owns the files. */
export type InstallContext = HelperContext & ContainerContext & Pick<ServerContext, 'bus' | 'runAs'>;

function progress(
  ctx: Pick<ServerContext, 'bus'>,
  server: Server,
  phase: Phase,
  message?: string,
  bytes: Omit<PullProgress, 'message'> = {},
): void {
  ctx.bus.publish('install_progress', server.id, { phase, ...(message ? { message } : {}), ...bytes });
}

/**
 * The pull's progress as install_progress events (phase `pull`, with currentBytes/totalBytes/percent), at most one
 * per PROGRESS_INTERVAL_MS; the last one of a finished pull (100 %) always goes out.
 */
async function pullWithProgress(ctx: Pick<ServerContext, 'bus' | 'runtime'>, server: Server, image: string) {
  progress(ctx, server, 'pull', `pulling ${image}`);
  let last = 0;
  return ctx.runtime.pullImage(image, ({ message, ...bytes }) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS && bytes.percent !== 100) return;
    last = now;
    progress(ctx, server, 'pull', message, bytes);
  });
}

/**
 * After the install: removes the special files the script left, clears setuid bits, and gives the game's user
 * ownership of its directory (only root can; otherwise files keep their owner), all without following a link
 * (tree-sanitize.ts). It runs even when no script ran: a reinstall keeps what the directory already held.
 */
async function sanitizeDataDir(ctx: Pick<ServerContext, 'config' | 'runAs'>, server: Server): Promise<void> {
  const owner = ctx.runAs && process.getuid?.() === 0 ? ctx.runAs : undefined;
  const { sanitizeMaxEntries, sanitizeMaxDepth } = ctx.config.servers;
  const result = await sanitizeTree(server.dataDir, {
    owner,
    maxEntries: sanitizeMaxEntries,
    maxDepth: sanitizeMaxDepth,
  });
  server.log.info({ ...result, owner }, 'server directory sanitized after install');
  if (result.removed > 0) {
    server.notice(
      'warning',
      `removed ${result.removed} device node(s), FIFO(s) or socket(s) the install left in the server directory`,
    );
  }
  if (result.truncated) {
    server.notice(
      'warning',
      `the server directory is larger than the post-install walk's bounds (${sanitizeMaxEntries} entries, depth ` +
        `${sanitizeMaxDepth}); entries past them keep their owner`,
    );
  }
}

/**
 * The background half of create_server (PROTOCOL.md §4.1): pull (with local fallback), data directory,
 * optional install script in a short-lived container, then the server container. Ends in `offline`, or
 * `install_failed` with the reason in a daemon_message.
 */
/** `retry`: Docker was unreachable; the install stays pending and runs again when Docker returns. */
export type InstallOutcome = 'ok' | 'failed' | 'retry';

/** Lines of the install's output that go with a failed install's reason (lastError, daemon_message). */
const FAILURE_TAIL_LINES = 20;

/** `record` keeps the install's output for get_install_log and streams it as install_output (install-log.ts). */
export async function runInstall(
  ctx: InstallContext,
  server: Server,
  signal: AbortSignal,
  record: InstallRecorder,
): Promise<InstallOutcome> {
  try {
    const pull = await pullWithProgress(ctx, server, server.spec.image);
    if (pull.warning) server.notice('warning', pull.warning);
    signal.throwIfAborted();

    await mkdir(server.dataDir, { recursive: true, mode: 0o755 });
    const script = server.spec.install;
    if (script && !server.spec.skipScripts) {
      const steam = steamCmdStep(script);
      if (steam) {
        progress(ctx, server, 'install', 'running SteamCMD app_update');
        const output = (lines: string[]) => {
          server.console.append('install', lines);
          record.append(lines);
        };
        await runSteamAppUpdate(ctx, server, output, (code) => record.setExitCode(code));
        signal.throwIfAborted();
      }
      if (steam !== 'instead') {
        progress(ctx, server, 'install', 'running the install script');
        await runInstallScript(ctx, server, script, record);
        signal.throwIfAborted();
      }
    }
    await sanitizeDataDir(ctx, server);

    progress(ctx, server, 'create', 'creating the container');
    await createServerContainer(ctx, server);
    progress(ctx, server, 'done');
    return 'ok';
  } catch (err) {
    const error = toAgentError(err);
    if (error.code === 'DOCKER_UNAVAILABLE') {
      server.log.warn('Docker is unreachable; the install resumes when it returns');
      server.notice('warning', 'Docker is unreachable; the install resumes when it returns');
      return 'retry';
    }
    record.append([`[agent] install failed: ${error.message}`]);
    server.reportFailure('install', error);
    progress(ctx, server, 'failed', error.message);
    return 'failed';
  }
}

async function runInstallScript(
  ctx: InstallContext,
  server: Server,
  script: { script: string; container: string | undefined; entrypoint: string },
  record: InstallRecorder,
): Promise<void> {
  const image = script.container ?? server.spec.image;
  if (script.container) {
    const pull = await pullWithProgress(ctx, server, script.container);
    if (pull.warning) server.notice('warning', pull.warning);
  }
  const { ref } = parseImageRef(image);
  const splitter = new LineSplitter();
  const output = (lines: string[]) => {
    server.console.append('install', lines);
    record.append(lines);
  };
  const exitCode = await ctx.runtime.runToCompletion(
    buildInstallContainerOptions({
      ...(await helperContainerBase(ctx, server)),
      name: `ctrl-alt-play-install-${server.id}`,
      image: ref,
      entrypoint: script.entrypoint,
      cmd: ['-c', script.script],
      environment: server.spec.environment,
    }),
    (chunk) => output(splitter.push(chunk)),
    INSTALL_TIMEOUT_MS,
  );
  output(splitter.flush());
  record.setExitCode(exitCode);
  if (exitCode !== 0) {
    throw new AgentError('DOCKER_ERROR', `install script exited with code ${exitCode}`, {
      exitCode,
      lastLines: record.lastLines(FAILURE_TAIL_LINES),
    });
  }
}
