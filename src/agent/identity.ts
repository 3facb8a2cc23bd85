import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { NodeToken } from '../api/http/auth.js';
import { ensureDataDirFormat } from '../config/data-format.js';
import { MIN_TOKEN_LENGTH, resolveAgentId, resolveToken, tokenFile } from '../config/identity.js';
import type { AgentConfig } from '../config/schema.js';

/** Who this agent is: the node token (one holder, rotated live) and the agent id kept in the data directory. */
export interface AgentIdentity {
  /** The token as read at start (the rotating holder below is what every user reads). */
  token: string;
  nodeToken: NodeToken;
  agentId: string;
}

/** Prepares the data directory (created, format checked) and resolves the token and the agent id from it. */
export async function loadIdentity(config: AgentConfig, log: Logger): Promise<AgentIdentity> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o711 });
  await ensureDataDirFormat(config.dataDir, log.child({ component: 'data-dir' }));

  const token = await resolveToken(config.token, config.dataDir);
  // Never the token itself: stdout is the journal, kept and shipped. The operator reads it with `token show`.
  if (token.generated) {
    log.info(
      { file: tokenFile(config.dataDir) },
      'generated a node token; `ctrl-alt-play-agent token show` prints it for the panel',
    );
  }
  if (token.token.length < MIN_TOKEN_LENGTH) log.warn(`the token is shorter than ${MIN_TOKEN_LENGTH} characters`);
  // One holder for every user of the token, so `token rotate` + SIGHUP reaches all of them (agent/shutdown.ts).
  const nodeToken = new NodeToken(token.token);
  const agentId = await resolveAgentId(config.dataDir);
  return { token: token.token, nodeToken, agentId };
}
