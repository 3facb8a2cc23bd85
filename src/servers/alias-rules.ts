import { AgentError } from '../errors.js';
import { isValidServerId } from '../protocol/fields.js';

/** Upper bound on aliases: each server has at most a few (the panel's database id). */
export const MAX_ALIASES = 100_000;

/**
 * The rules of the alias table (PROTOCOL.md §5), for the agent's registry and for the CLI that edits the table
 * offline: an alias is a valid id, names exactly one known server, and is never another server's canonical id.
 * Returns 'unchanged' when the alias already names that server (or is the server's own id), 'add' when it may
 * be added; throws the catalogue error otherwise.
 */
export function checkAlias(
  alias: string,
  canonical: string,
  known: { isServer(id: string): boolean; target(alias: string): string | undefined; size: number },
): 'add' | 'unchanged' {
  if (!isValidServerId(alias)) throw new AgentError('INVALID_PAYLOAD', `alias ${alias} is not a valid server id`);
  if (!known.isServer(canonical)) {
    throw new AgentError('SERVER_NOT_FOUND', `server ${canonical} not found on this node`, { serverId: canonical });
  }
  if (alias === canonical) return 'unchanged';
  if (known.isServer(alias)) {
    throw new AgentError('INVALID_PAYLOAD', `alias ${alias} is the canonical id of another server`);
  }
  const existing = known.target(alias);
  if (existing === canonical) return 'unchanged';
  if (existing !== undefined)
    throw new AgentError('INVALID_PAYLOAD', `alias ${alias} already names server ${existing}`);
  if (known.size >= MAX_ALIASES) throw new AgentError('INVALID_PAYLOAD', 'the alias table is full');
  return 'add';
}
