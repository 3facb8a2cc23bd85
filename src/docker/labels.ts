/**
 * Docker labels are the source of truth for ownership: the agent only ever lists, inspects or touches
 * containers that carry `managed=true` and its own agent id.
 */
export const LABEL_MANAGED = 'ctrl-alt-play.managed';
export const LABEL_SERVER_ID = 'ctrl-alt-play.server-id';
export const LABEL_AGENT_ID = 'ctrl-alt-play.agent-id';
/** Hash of the spec the container was created from; a mismatch at start means "re-create". */
export const LABEL_SPEC_HASH = 'ctrl-alt-play.spec-hash';
export const LABEL_ROLE = 'ctrl-alt-play.role';

export type ContainerRole = 'server' | 'install';

export function ownerLabels(agentId: string, serverId: string, role: ContainerRole): Record<string, string> {
  return {
    [LABEL_MANAGED]: 'true',
    [LABEL_AGENT_ID]: agentId,
    [LABEL_SERVER_ID]: serverId,
    [LABEL_ROLE]: role,
  };
}

/** Label filters for the Engine's list and events endpoints, so foreign containers never reach us. */
export function ownerFilters(agentId: string, serverId?: string, role: ContainerRole = 'server'): string[] {
  const filters = [`${LABEL_MANAGED}=true`, `${LABEL_AGENT_ID}=${agentId}`, `${LABEL_ROLE}=${role}`];
  if (serverId !== undefined) filters.push(`${LABEL_SERVER_ID}=${serverId}`);
  return filters;
}

export function containerName(serverId: string): string {
  return `ctrl-alt-play-${serverId}`;
}
