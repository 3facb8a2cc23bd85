import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { readSavedToken, tokenFile, writeNewToken } from '../config/identity.js';
import type { LoadedConfig } from '../config/load.js';
import { describeSource } from '../config/sources.js';
import { EXIT } from './exit-codes.js';

/**
 * `token show` and `token rotate`: the node token leaves the machine only when an operator asks for it, on the
 * terminal they asked from, never through the agent's stdout (the journal, which is kept and shipped).
 */
export function registerTokenCommands(
  program: Command,
  withConfigFlags: (c: Command) => Command,
  loadedFrom: (flags: Record<string, unknown>) => LoadedConfig,
): void {
  const token = program.command('token').description("print or rotate the node token (the panel's daemon token)");
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n`);
    process.exit(EXIT.FAILURE);
  };

  withConfigFlags(token.command('show').description('print the node token')).action(async (flags) => {
    const { config } = loadedFrom(flags);
    const value = config.token ?? (await readSavedToken(config.dataDir));
    if (!value) {
      fail(
        `no token yet in ${tokenFile(config.dataDir)}: the agent creates one at its first start (or run 'token rotate')`,
      );
    }
    process.stdout.write(`${value}\n`);
  });

  withConfigFlags(
    token
      .command('rotate')
      .description('write a new token to the data directory; a running agent takes it on SIGHUP (systemctl reload)'),
  ).action(async (flags) => {
    const { config, sources } = loadedFrom(flags);
    if (config.token) {
      fail(
        `the token is set by ${describeSource(sources.token ?? { kind: 'default' })}, which wins over the data directory's: change it there`,
      );
    }
    await mkdir(config.dataDir, { recursive: true, mode: 0o711 });
    const value = await writeNewToken(config.dataDir);
    process.stdout.write(`${value}\n`);
    process.stderr.write(
      `saved in ${tokenFile(config.dataDir)}. A running agent takes it on SIGHUP (systemctl reload ctrl-alt-play-agent, ` +
        "or kill -HUP <pid>); sockets opened with the old token are then closed. Set it as the node's daemon token in the panel.\n",
    );
  });
}
