import path from 'node:path';

/**
 * Where everything lives in the agent's data directory: one definition for the agent, the CLI (which edits
 * the alias table offline), the tests and the benchmarks. `agentId` is the file to guard: losing it makes every
 * container on the host foreign to the agent (their labels name the old id).
 */
export function dataDirLayout(dataDir: string) {
  return {
    /** The layout's version (config/data-format.ts). */
    format: path.join(dataDir, 'format'),
    token: path.join(dataDir, 'token'),
    agentId: path.join(dataDir, 'agent-id'),
    servers: path.join(dataDir, 'servers'),
    aliases: path.join(dataDir, 'aliases.json'),
    panelOutbox: path.join(dataDir, 'outbox.jsonl'),
    webhookOutbox: path.join(dataDir, 'webhook-outbox.json'),
    volumes: path.join(dataDir, 'volumes'),
    installLogs: path.join(dataDir, 'install-logs'),
  };
}

export type DataDirLayout = ReturnType<typeof dataDirLayout>;
