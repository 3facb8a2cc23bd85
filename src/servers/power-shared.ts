import type { DockerRuntime } from '../docker/runtime.js';
import type { Server } from './server.js';
import { isActive } from './state.js';

/**
 * Power actions (PROTOCOL.md §4.1). Each validates and claims the server's lock synchronously, sets the
 * accepted state, and finishes in the background; the reply carries the accepted state.
 */

export interface StopOptions {
  signal: string;
  timeoutS: number;
}

export const DEFAULT_STOP: StopOptions = { signal: 'SIGTERM', timeoutS: 30 };

/** What power actions need, and nothing else: the container calls, how to get a container, the start hook. */
export interface PowerDeps {
  runtime: Pick<DockerRuntime, 'attach' | 'start' | 'status' | 'findContainer' | 'kill' | 'waitForExit'>;
  /** The server's container, (re-)created when missing or built from an older spec (container.ts). */
  ensureContainer(server: Server): Promise<string>;
  /** Work before every start once the container exists (the config-file rewrite); never throws. */
  beforeStart?: ((server: Server) => Promise<void>) | undefined;
  /** Extra wait after a stop command before the signal rung (servers.signalGraceMs). */
  signalGraceMs: number;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A holder whose state has already settled (offline, crashed, …) is only persisting its last write: wait for it
 * instead of answering SERVER_BUSY to a client that saw the settled state and acted on it.
 */
export async function awaitSettling(server: Server): Promise<void> {
  const holder = server.lock.current;
  const settled =
    (!isActive(server.state) && server.state !== 'installing') || (holder === 'start' && server.state === 'running');
  if (holder && settled) {
    await Promise.race([server.lock.settled(), sleep(5_000)]);
  }
}

export function toPending(options: StopOptions) {
  return { signal: options.signal, timeoutS: options.timeoutS };
}
