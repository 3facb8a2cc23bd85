import type { Server } from '../server.js';

/**
 * The `eula` feature of an egg (PROTOCOL.md §4.6): when the console asks for the EULA, tell the user once per
 * start with a daemon_message, as Pterodactyl's panel opens its EULA dialog. Minecraft prints "You need to agree
 * to the EULA in order to run the server" and exits, so the watcher is set before the container starts.
 */

const EULA_LINE = /you need to agree to the eula/i;

export const EULA_NOTICE =
  'the server needs its EULA accepted: read https://aka.ms/MinecraftEULA, set eula=true in eula.txt, then start it again';

/** Returns the unsubscribe function, or undefined when the egg has no `eula` feature. */
export function watchEula(server: Server): (() => void) | undefined {
  if (!server.spec.eggInfo?.features.some((f) => f.toLowerCase() === 'eula')) return undefined;
  const stop = server.console.onLines((lines) => {
    if (!lines.some((line) => EULA_LINE.test(line))) return;
    stop();
    server.notice('warning', EULA_NOTICE);
  });
  return stop;
}
