import { chown, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ownerLabels } from '../docker/labels.js';
import { AgentError, toAgentError } from '../errors.js';
import { createServerContainer } from './container.js';
import type { ServerContext } from './context.js';
import { LineSplitter } from './line-splitter.js';
import type { Server } from './server.js';

/** An install script gets this long before it is killed. */
const INSTALL_TIMEOUT_MS = 30 * 60_000;
/** Pull progress is chatty (one event per layer per tick); keep at most one event per interval. */
const PROGRESS_INTERVAL_MS = 500;

type Phase = 'pull' | 'install' | 'create' | 'done' | 'failed';

function progress(ctx: ServerContext, server: Server, phase: Phase, message?: string): void {
  ctx.bus.publish('install_progress', server.id, { phase, ...(message ? { message } : {}) });
}

/** Gives the game's user ownership of its directory (only root can; otherwise files keep the agent's user). */
export async function chownTree(dir: string, uid: number, gid: number, maxEntries = 1_000_000): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let seen = 0;
  const walk = async (p: string): Promise<void> => {
    if (++seen > maxEntries) return;
    const st = await lstat(p);
    if (st.uid !== uid || st.gid !== gid) await chown(p, uid, gid).catch(() => undefined);
    if (st.isDirectory()) for (const name of await readdir(p)) await walk(path.join(p, name));
  };
  await walk(dir);
}

/**
 * The background half of create_server (PROTOCOL.md §4.1): pull (with local fallback), data directory,
 * optional install script in a short-lived container, then the server container. Ends in `offline`, or
 * `install_failed` with the reason in a daemon_message.
 */
/** `retry`: Docker was unreachable; the install stays pending and runs again when Docker returns. */
export type InstallOutcome = 'ok' | 'failed' | 'retry';

export async function runInstall(ctx: ServerContext, server: Server, signal: AbortSignal): Promise<InstallOutcome> {
  const { runtime } = ctx;
  try {
    progress(ctx, server, 'pull', `pulling ${server.spec.image}`);
    let last = 0;
    const pull = await runtime.pullImage(server.spec.image, (message) => {
      const now = Date.now();
      if (now - last < PROGRESS_INTERVAL_MS) return;
      last = now;
      progress(ctx, server, 'pull', message);
    });
    if (pull.warning) server.notice('warning', pull.warning);
    signal.throwIfAborted();

    await mkdir(server.dataDir, { recursive: true, mode: 0o755 });
    const script = server.spec.install;
    if (script && !server.spec.skipScripts) {
      progress(ctx, server, 'install', 'running the install script');
      await runInstallScript(ctx, server, script);
      signal.throwIfAborted();
    }
    if (ctx.runAs) await chownTree(server.dataDir, ctx.runAs.uid, ctx.runAs.gid);

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
    server.reportFailure('install', error);
    progress(ctx, server, 'failed', error.message);
    return 'failed';
  }
}

async function runInstallScript(
  ctx: ServerContext,
  server: Server,
  script: { script: string; container: string | undefined; entrypoint: string },
): Promise<void> {
  const image = script.container ?? server.spec.image;
  if (script.container) await ctx.runtime.pullImage(script.container, () => undefined);
  const ref = image.startsWith('~') ? image.slice(1) : image;
  const splitter = new LineSplitter();
  const env = Object.entries(server.spec.environment).map(([k, v]) => `${k}=${v}`);
  const exitCode = await ctx.runtime.runToCompletion(
    {
      name: `ctrl-alt-play-install-${server.id}`,
      Image: ref,
      Labels: ownerLabels(ctx.agentId, server.id, 'install'),
      Entrypoint: [script.entrypoint],
      Cmd: ['-c', script.script],
      Env: [...env, `SERVER_MEMORY=${server.spec.limits.memory}`],
      WorkingDir: '/mnt/server',
      Tty: true,
      OpenStdin: false,
      HostConfig: {
        Binds: [`${server.dataDir}:/mnt/server`],
        NetworkMode: ctx.config.docker.network,
        Privileged: false,
        SecurityOpt: ['no-new-privileges'],
        PidsLimit: ctx.config.servers.pidsLimit,
        Memory: Math.max(server.spec.limits.memory, 1024) * 1024 * 1024,
        Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${ctx.config.servers.tmpSizeMb}m` },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '5m', 'max-file': '1' } },
      },
    },
    (chunk) => server.console.append('install', splitter.push(chunk)),
    INSTALL_TIMEOUT_MS,
  );
  server.console.append('install', splitter.flush());
  if (exitCode !== 0) throw new AgentError('DOCKER_ERROR', `install script exited with code ${exitCode}`);
}
