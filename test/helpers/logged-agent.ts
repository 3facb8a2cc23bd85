import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { type RunningAgent, startAgent } from '../../src/main.js';
import { commandClient, prepareDataDir, removeDataDir } from './agent.js';

export interface LoggedAgent {
  agent: RunningAgent;
  url: string;
  token: string;
  dataDir: string;
  /** Every log line so far, parsed (pino JSON at info and above). */
  lines: Record<string, any>[];
  command(body: unknown): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

/** Starts an in-process agent whose log lines the test can read (startTestAgent logs nowhere). Not waited ready. */
export async function startLoggedAgent(overrides: Record<string, unknown>): Promise<LoggedAgent> {
  const { dataDir, token } = await prepareDataDir();
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const configFile = path.join(dataDir, 'test-config.yml');
  const docker = { network: 'ctrl-alt-play-test', ...(overrides.docker as object | undefined) };
  await writeFile(configFile, JSON.stringify({ ...overrides, docker }));
  const { config } = loadConfig({
    env: { AGENT_DATA_DIR: dataDir, AGENT_PORT: '0', AGENT_HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    configPath: configFile,
  });
  const agent = await startAgent(config, pino({ level: 'info' }, sink));
  const url = `http://127.0.0.1:${agent.port}`;
  return {
    agent,
    url,
    token,
    dataDir,
    lines,
    command: commandClient(url, token),
    stop: async () => {
      await agent.stop('test');
      await removeDataDir(dataDir);
    },
  };
}
