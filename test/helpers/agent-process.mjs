// The one launcher of the real agent process, for the end-to-end tests and the benchmarks: the built agent
// (`node dist/cli/bin.js run`) as a child, as systemd would start it. Plain JavaScript with agent-process.d.mts
// beside it for the tests (as test-image.mjs): the bench runs under plain `node`, which cannot load the tests'
// TypeScript (its `.js` specifiers name `.ts` files), and both sides need dist/ built anyway to start the agent, so
// the agent's own constants come from there.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { NODE_FLAGS } from '../../dist/cli/node-flags.js';
import { dataDirLayout } from '../../dist/config/data-dir.js';
import { LABEL_AGENT_ID } from '../../dist/docker/labels.js';
import { commandClient, waitFor } from './agent-client.mjs';

const BIN = path.resolve(import.meta.dirname, '../../dist/cli/bin.js');

/** Resolves with the port of the first "agent listening" log line; rejects on `timeoutMs` or an early exit. */
function listeningPort(child, exited, timeoutMs, stdout, outputs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`agent did not start within ${timeoutMs} ms:\n${outputs()}`)),
      timeoutMs,
    );
    const scan = () => {
      for (const line of stdout().split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'agent listening' && entry.port) {
            clearTimeout(timer);
            child.stdout.off('data', scan);
            resolve(entry.port);
            return;
          }
        } catch {
          // a partial line; wait for more
        }
      }
    };
    child.stdout.on('data', scan);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with code ${code} before listening:\n${outputs()}`));
    });
  });
}

/**
 * Starts the agent with `env` (on 127.0.0.1, port 0, LOG_LEVEL info unless `env` says otherwise) and learns its
 * port from the "agent listening" line. stdout is kept (output()); stderr is kept for the error of a failed start,
 * or with `stderr: 'inherit'` shown as it comes (the bench). `token` is the one the agent will accept.
 */
export async function spawnAgent(env, token, { args = [], timeoutMs = 20_000, stderr = 'pipe' } = {}) {
  // With the production V8 flags, as the systemd unit and the image start it.
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'run', ...args], {
    env: { PATH: process.env.PATH ?? '', AGENT_HOST: '127.0.0.1', AGENT_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', stderr],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c) => {
    err += c.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await listeningPort(
    child,
    exited,
    timeoutMs,
    () => out,
    () => `${out}\n${err}`,
  );
  const url = `http://127.0.0.1:${port}`;
  return { child, url, port, output: () => out, command: commandClient(url, token), exited };
}

/** Removes the containers labelled with `agentId` (what an agent created), whatever their state. */
async function removeContainersOf(agentId) {
  const docker = new Docker();
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_AGENT_ID}=${agentId}`] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

/**
 * The whole life of an agent for a benchmark: a fresh data directory with a token and an agent id (or `reuse`'s,
 * to restart one on the same data, bench/density.mjs), a config file of `config` keys over the test network, the
 * process, and stop() that also removes its containers and data directory.
 */
export async function startAgentProcess(extraEnv = {}, config = {}, reuse = undefined) {
  const dataDir = reuse?.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'cap-bench-')));
  const token = reuse?.token ?? randomBytes(24).toString('hex');
  const agentId = reuse?.agentId ?? `agt_test_bench_${randomBytes(4).toString('hex')}`;
  const layout = dataDirLayout(dataDir);
  await writeFile(layout.token, `${token}\n`, { mode: 0o600 });
  await writeFile(layout.agentId, `${agentId}\n`);
  const configFile = path.join(dataDir, 'bench-config.yml');
  await writeFile(configFile, JSON.stringify({ docker: { network: 'ctrl-alt-play-test' }, ...config }));
  const agent = await spawnAgent({ AGENT_DATA_DIR: dataDir, ...extraEnv }, token, {
    args: ['--config', configFile],
    stderr: 'inherit',
  });
  // Best effort: an agent restarted on 200 servers may take longer, and density.mjs times that itself.
  await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, '/ready', 20_000).catch(() => {});
  return {
    url: agent.url,
    token,
    dataDir,
    agentId,
    pid: agent.child.pid,
    process: agent,
    command: agent.command,
    async rssMb() {
      const status = await readFile(`/proc/${agent.child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
    },
    /** Ends the process without the clean-up of stop(): the containers and the data directory stay. */
    async kill(signal = 'SIGKILL') {
      agent.child.kill(signal);
      await agent.exited;
    },
    async stop() {
      agent.child.kill('SIGTERM');
      await agent.exited;
      await removeContainersOf(agentId);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
