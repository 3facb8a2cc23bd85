import path from 'node:path';
import type { Command } from 'commander';
import { isValidServerId } from '../protocol/fields.js';
import type { AgentConfig } from '../config/schema.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic-file.js';
import { EXIT } from './exit-codes.js';

/**
 * `alias add|rm|ls`: the operator's view of the alias table (PROTOCOL.md §5). It edits the same atomically
 * written file the agent reads at start, so run it with the agent stopped or restart the agent afterwards.
 */
async function table(config: AgentConfig): Promise<Record<string, string>> {
  const value = await readJsonIfExists(path.join(config.dataDir, 'aliases.json'));
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, string>) : {};
}

async function knownServers(config: AgentConfig): Promise<Set<string>> {
  const { readdir } = await import('node:fs/promises');
  const names = await readdir(path.join(config.dataDir, 'servers')).catch(() => [] as string[]);
  return new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
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
    const entries = Object.entries(await table(configFrom(flags))).sort();
    for (const [from, to] of entries) process.stdout.write(`${from}\t${to}\n`);
  });

  withConfigFlags(alias.command('add <alias> <serverId>').description('make <alias> name server <serverId>')).action(
    async (name: string, serverId: string, flags) => {
      const config = configFrom(flags);
      if (!isValidServerId(name) || !isValidServerId(serverId)) fail('alias and serverId must be valid server ids');
      const servers = await knownServers(config);
      if (!servers.has(serverId)) fail(`server ${serverId} is not known on this node`);
      if (servers.has(name)) fail(`${name} is the id of another server`);
      const current = await table(config);
      if (current[name] && current[name] !== serverId) fail(`${name} already names server ${current[name]}`);
      await writeJsonAtomic(path.join(config.dataDir, 'aliases.json'), { ...current, [name]: serverId });
      process.stdout.write(`${name} -> ${serverId}\n`);
    },
  );

  withConfigFlags(alias.command('rm <alias>').description('remove an alias')).action(async (name: string, flags) => {
    const config = configFrom(flags);
    const current = await table(config);
    if (!(name in current)) fail(`no alias ${name}`);
    delete current[name];
    await writeJsonAtomic(path.join(config.dataDir, 'aliases.json'), current);
    process.stdout.write(`removed ${name}\n`);
  });
}
