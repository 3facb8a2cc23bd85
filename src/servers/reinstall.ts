import { AgentError, toAgentError } from '../errors.js';
import type { ServerFiles } from '../files/server-files.js';
import { awaitSettling, DEFAULT_STOP, type PowerController } from './power.js';
import type { Server } from './server.js';
import { isActive } from './state.js';

/**
 * reinstall_server (PROTOCOL.md §4.6): the stop ladder if the server runs, then the install step again with the
 * current spec (pull, script, container), settling as `offline` or `install_failed`. The files stay unless `wipe`.
 */

export interface ReinstallSteps {
  /** The power owner, for the stop ladder before the install. */
  power: PowerController;
  /** The install step under the reinstall's lock (ServerManager.installStep): records and settles the state. */
  install(signal: AbortSignal): Promise<void>;
  /** The server's sandbox, for a wipe. */
  files(): ServerFiles;
}

/** Rounds of list-and-delete a wipe makes at most; each round removes up to `files.listMaxEntries` entries. */
const WIPE_MAX_ROUNDS = 100;

/**
 * Deletes every entry of the server's root through the sandbox (never `rm -r` on a path: a link the tenant left
 * must not lead the agent outside the directory). Entries the denylist protects are kept, and reported.
 */
export async function wipeServerFiles(files: ServerFiles): Promise<{ removed: number; kept: string[] }> {
  const kept = new Set<string>();
  let removed = 0;
  for (let round = 0; round < WIPE_MAX_ROUNDS; round++) {
    let listing: Awaited<ReturnType<ServerFiles['list']>>;
    try {
      listing = await files.list('/');
    } catch (err) {
      if (toAgentError(err).code === 'FILE_NOT_FOUND') break; // never installed: nothing to wipe
      throw err;
    }
    const targets = listing.files.filter((f) => !kept.has(f.name));
    if (targets.length === 0) break;
    for (const entry of targets) {
      try {
        await files.delete(`/${entry.name}`);
        removed++;
      } catch (err) {
        const error = toAgentError(err);
        if (error.code !== 'PERMISSION_DENIED' && error.code !== 'FILE_NOT_FOUND') throw error;
        if (error.code === 'PERMISSION_DENIED') kept.add(entry.name);
      }
    }
  }
  return { removed, kept: [...kept] };
}

export async function reinstallServer(
  server: Server,
  options: { wipe: boolean },
  steps: ReinstallSteps,
): Promise<'installing'> {
  await awaitSettling(server);
  if (server.state === 'suspended') {
    throw new AgentError('INVALID_STATE', `server ${server.id} is suspended; unsuspend it first`, {
      status: server.state,
    });
  }
  if (server.state === 'installing' && server.lock.current !== 'reinstall') {
    throw new AgentError('SERVER_BUSY', `server ${server.id} is installing`);
  }
  const active = isActive(server.state);
  const { joined } = server.lock.run('reinstall', async (signal) => {
    if (active) {
      if (!(await steps.power.stopAndSettle(server, DEFAULT_STOP, signal, 'offline')) || signal.aborted) return;
      await server.transition('installing', { reason: 'requested' });
    }
    if (options.wipe) {
      try {
        const { removed, kept } = await wipeServerFiles(steps.files());
        server.log.info({ removed, kept: kept.length }, 'server directory wiped for reinstall');
        if (kept.length > 0) {
          server.notice('warning', `wipe kept ${kept.length} entr(ies) the file denylist protects: ${kept.join(', ')}`);
        }
      } catch (err) {
        server.reportFailure('reinstall', err);
        await server.transition('install_failed', { reason: 'install_failed' });
        return;
      }
    }
    await steps.install(signal);
  });
  if (joined) return 'installing';
  await server.transition(active ? 'stopping' : 'installing', { reason: 'requested' });
  return 'installing';
}
