import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { commandClient } from './agent.js';

const BIN = path.resolve(import.meta.dirname, '../../dist/cli/bin.js');

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything the process wrote to stdout so far (JSON log lines). */
  output(): string;
  command(body: unknown): Promise<Record<string, any>>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/**
 * Starts the built agent (`node dist/cli/bin.js run`) as a real child process, as systemd would, and learns its
 * port from the "agent listening" log line. `npm test` builds dist/ first.
 */
export async function spawnAgent(
  env: Record<string, string>,
  token: string,
  args: string[] = [],
  timeoutMs = 20_000,
): Promise<AgentProcess> {
  // With the production V8 flags, as the systemd unit and the image start it.
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'run', ...args], {
    env: { PATH: process.env.PATH ?? '', AGENT_HOST: '127.0.0.1', AGENT_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`agent did not start within ${timeoutMs} ms:\n${out}\n${err}`)),
      timeoutMs,
    );
    const scan = () => {
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === 'agent listening' && entry.port) {
            clearTimeout(timer);
            child.stdout?.off('data', scan);
            resolve(entry.port);
            return;
          }
        } catch {
          // a partial line; wait for more
        }
      }
    };
    child.stdout?.on('data', scan);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with code ${code} before listening:\n${out}\n${err}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return { child, url, port, output: () => out, command: commandClient(url, token), exited };
}
