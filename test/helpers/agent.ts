import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dataDirLayout } from '../../src/config/data-dir.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { type RunningAgent, startAgent } from '../../src/main.js';
import { commandClient, waitFor } from './agent-client.mjs';
import { runPrefix } from './constants.js';
import { STEAMCMD_IMAGE } from './steamcmd-image.mjs';

// One command client and one poll for every test and the bench (agent-client.mjs is plain JavaScript for the bench).
export { commandClient, waitFor };

export interface TestAgent {
  url: string;
  token: string;
  dataDir: string;
  agentId: string;
  agent: RunningAgent;
  /** POST /api/command with the bearer token; returns the parsed JSON reply. */
  command(body: unknown): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

/** A fresh data directory with a known token and a test agent id (so teardown can find its containers). */
export async function prepareDataDir(): Promise<{ dataDir: string; token: string; agentId: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'cap-agent-'));
  const token = randomBytes(24).toString('hex');
  const agentId = `${runPrefix()}${randomBytes(6).toString('hex')}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(dataDirLayout(dataDir).token, `${token}\n`, { mode: 0o600 });
  await writeFile(dataDirLayout(dataDir).agentId, `${agentId}\n`);
  return { dataDir, token, agentId };
}

/** Starts an agent in this process on a free port; `overrides` are config keys (file-style tree). */
export async function startTestAgent(
  overrides: Record<string, unknown> = {},
  prepared?: { dataDir: string; token: string; agentId: string },
  options: { skipReady?: boolean; scheme?: 'http' | 'https' } = {},
): Promise<TestAgent> {
  const { dataDir, token, agentId } = prepared ?? (await prepareDataDir());
  const env = {
    AGENT_DATA_DIR: dataDir,
    AGENT_PORT: '0',
    AGENT_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  };
  const configFile = path.join(dataDir, 'test-config.yml');
  // steam.image: the local stand-in (steamcmd-image.mjs); a test never pulls the real one from Docker Hub.
  const defaults = { docker: { network: 'ctrl-alt-play-test' }, steam: { image: `~${STEAMCMD_IMAGE}` } };
  await writeFile(configFile, JSON.stringify({ ...defaults, ...overrides }));
  const { config } = loadConfig({ env, configPath: configFile });
  const agent = await startAgent(config, createLogger(config.logLevel));
  const url = `${options.scheme ?? 'http'}://127.0.0.1:${agent.port}`;
  // Boot reconciliation runs after the listener opens; tests start from a reconciled agent, as the panel
  // would after /ready. An agent deliberately pointed at no Docker is returned at once.
  if (!options.skipReady) {
    await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 'the agent to be ready', 20_000);
  }
  return {
    url,
    token,
    dataDir,
    agentId,
    agent,
    command: commandClient(url, token),
    stop: () => agent.stop('test'),
  };
}

export async function removeDataDir(dataDir: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
}

/** Deletes every server the agent knows (containers and files with them), then stops it and removes its data. */
export async function deleteServersAndStop(agent: TestAgent): Promise<void> {
  const { servers } = (await agent.command({ action: 'list_servers' })).data as { servers: { serverId: string }[] };
  for (const { serverId } of servers) await agent.command({ action: 'delete_server', serverId });
  await waitFor(
    async () => (await agent.command({ action: 'list_servers' })).data.servers.length === 0,
    'every server to be deleted',
  );
  await agent.stop();
  await removeDataDir(agent.dataDir);
}

/** Waits until get_server_status reports `status`; on time-out the error shows the last reply. */
export async function waitForStatus(agent: TestAgent, serverId: string, status: string, timeoutMs = 30_000) {
  let last: unknown;
  try {
    return await waitFor(
      async () => {
        const r = await agent.command({ action: 'get_server_status', serverId });
        last = r;
        return r.data?.status === status ? r : undefined;
      },
      `server ${serverId} to be ${status}`,
      timeoutMs,
    );
  } catch {
    throw new Error(`timed out waiting for server ${serverId} to be ${status}; last reply: ${JSON.stringify(last)}`);
  }
}

export function uuid(): string {
  return randomBytes(16).toString('hex');
}
