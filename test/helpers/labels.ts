import { LABEL_AGENT_ID, LABEL_MANAGED, LABEL_ROLE, LABEL_SERVER_ID } from '../../src/docker/labels.js';

/** The Engine's label filter for one agent's containers (and one server's), from the agent's own label names. */
export function labelFilter(agentId: string, serverId?: string): string[] {
  return [`${LABEL_AGENT_ID}=${agentId}`, ...(serverId === undefined ? [] : [`${LABEL_SERVER_ID}=${serverId}`])];
}

export { LABEL_AGENT_ID, LABEL_MANAGED, LABEL_ROLE, LABEL_SERVER_ID };
