// Starts the built agent as a child process with a fresh data directory, for benchmarks.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { NODE_FLAGS } from '../../dist/cli/node-flags.js';

const BIN = path.resolve(import.meta.dirname, '../../dist/cli/bin.js');

/** `reuse`: the data directory, token and agent id of an earlier agent, to restart it (bench/density.mjs). */
export async function startAgentProcess(extraEnv = {}, config = {}, reuse = undefined) {
  const dataDir = reuse?.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'cap-bench-')));
  const token = reuse?.token ?? randomBytes(24).toString('hex');
  const agentId = reuse?.agentId ?? `agt_test_bench_${randomBytes(4).toString('hex')}`;
  await writeFile(path.join(dataDir, 'token'), `${token}\n`, { mode: 0o600 });
  await writeFile(path.join(dataDir, 'agent-id'), `${agentId}\n`);
  const configFile = path.join(dataDir, 'bench-config.yml');
  await writeFile(configFile, JSON.stringify({ docker: { network: 'ctrl-alt-play-test' }, ...config }));
  // The same V8 flags as `npm start`, the systemd unit and the image.
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'run', '--config', configFile], {
    env: {
      PATH: process.env.PATH,
      AGENT_DATA_DIR: dataDir,
      AGENT_PORT: '0',
      AGENT_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise((r) => child.once('exit', r));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${out}`)), 20_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /"port":(\d+)[^\n]*"msg":"agent listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}:\n${out}`)));
  });
  child.stdout.resume();
  const url = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const command = async (body) =>
    (await fetch(`${url}/api/command`, { method: 'POST', headers, body: JSON.stringify(body) })).json();
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}/ready`)).status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    token,
    dataDir,
    agentId,
    pid: child.pid,
    command,
    async rssMb() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
    },
    /** Ends the process without the clean-up of stop(): the containers and the data directory stay. */
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()));
      const docker = new Docker();
      const list = await docker.listContainers({
        all: true,
        filters: { label: [`ctrl-alt-play.agent-id=${agentId}`] },
      });
      await Promise.all(
        list.map((c) =>
          docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function waitFor(probe, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
