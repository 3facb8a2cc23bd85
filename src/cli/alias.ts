import type { Command } from 'commander';
import pino from 'pino';
import type { AgentConfig } from '../config/schema.js';
import { checkAlias } from '../servers/alias-rules.js';
import { ServerStore } from '../servers/store.js';
import { EXIT } from './exit-codes.js';

/**
 * `alias add|rm|ls`: the operator's view of the alias table (PROTOCOL.md §5), through the agent's own store and
 * alias rules (the same files, layout, atomic writes and checks). It edits the file the agent reads at start, so
 * run it with the agent stopped or restart the agent afterwards.
 */
function storeOf(config: AgentConfig): ServerStore {
  return new ServerStore(config.dataDir, pino({ level: 'silent' }));
}

export function registerAliasCommands(
  program: Command,
  withConfigFlags: (c: Command) => Command,
  configFrom: (flags: Record<string, unknown>) => AgentConfig,
): void {
  const alias = program.command('alias').description("manage server id aliases (the panel's database ids)");
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n`);
    process.exit(EXIT.FAILURE);
  };

  withConfigFlags(alias.command('ls').description('list aliases')).action(async (flags) => {
    const entries = Object.entries(await storeOf(configFrom(flags)).loadAliases()).sort();
    for (const [from, to] of entries) process.stdout.write(`${from}\t${to}\n`);
  });

  withConfigFlags(alias.command('add <alias> <serverId>').description('make <alias> name server <serverId>')).action(
    async (name: string, serverId: string, flags) => {
      const store = storeOf(configFrom(flags));
      const servers = new Set(await store.serverIds());
      const current = await store.loadAliases();
      try {
        const verdict = checkAlias(name, serverId, {
          isServer: (id) => servers.has(id),
          target: (a) => current[a],
          size: Object.keys(current).length,
        });
        if (verdict === 'add') await store.saveAliases({ ...current, [name]: serverId });
      } catch (err) {
        fail((err as Error).message);
      }
      process.stdout.write(`${name} -> ${serverId}\n`);
    },
  );

  withConfigFlags(alias.command('rm <alias>').description('remove an alias')).action(async (name: string, flags) => {
    const store = storeOf(configFrom(flags));
    const current = await store.loadAliases();
    if (!(name in current)) fail(`no alias ${name}`);
    delete current[name];
    await store.saveAliases(current);
    process.stdout.write(`removed ${name}\n`);
  });
}
