import { execFile, spawn } from 'node:child_process';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareDataDir, removeDataDir, waitFor } from '../helpers/agent.js';
import { type AgentProcess, spawnAgent } from '../helpers/agent-process.mjs';
import { TestSocket } from '../helpers/ws-client.js';

/**
 * Day-2 operations against the real agent process (issue 12): the token CLI and its rotation on SIGHUP, doctor on
 * a live node and on a broken Docker socket, the diagnostics report, and what the log lines carry.
 */
const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../dist/cli/bin.js');
const cleanup: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function cli(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function start(env: Record<string, string>, token: string): Promise<AgentProcess> {
  const agent = await spawnAgent(env, token);
  cleanup.push(async () => {
    if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await agent.exited;
  });
  return agent;
}

async function prepared() {
  const prep = await prepareDataDir();
  cleanup.push(() => removeDataDir(prep.dataDir));
  return prep;
}

function logLines(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

describe('the node token', () => {
  it('a generated token never reaches stdout; token show prints it; lines have string levels and the node id', async () => {
    const { dataDir } = await prepared();
    await rm(path.join(dataDir, 'token'));
    const env = { AGENT_DATA_DIR: dataDir, AGENT_NODE_ID: 'node-ops-1' };
    const agent = await start(env, 'unknown-yet');
    const saved = (await readFile(path.join(dataDir, 'token'), 'utf8')).trim();
    expect(saved.length).toBeGreaterThanOrEqual(32);
    const shown = await cli(['token', 'show'], env);
    expect(shown).toMatchObject({ code: 0, stdout: `${saved}\n` });

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const out = agent.output();
    expect(out).not.toContain(saved);
    const lines = logLines(out);
    expect(lines.length).toBe(out.split('\n').filter(Boolean).length); // nothing but JSON lines
    expect(lines.find((l) => l.msg?.startsWith('generated a node token'))).toMatchObject({ level: 'info' });
    for (const line of lines) {
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(line.level);
      expect(line.nodeId).toBe('node-ops-1');
    }
    // Ordered writes at exit: the last line is the shutdown's, after everything else.
    expect(lines.at(-1)?.msg).toBe('shutdown complete');
  });

  it('token rotate + SIGHUP closes a socket opened with the old token; the new token works, the old is refused', async () => {
    const { dataDir, token } = await prepared();
    const env = { AGENT_DATA_DIR: dataDir };
    const agent = await start(env, token);
    const socket = await TestSocket.open(agent.url, { authorization: `Bearer ${token}` });
    expect((await socket.request({ type: 'command', id: 'c1', action: 'list_servers' })).success).toBe(true);

    const rotated = await cli(['token', 'rotate'], env);
    expect(rotated.code).toBe(0);
    const next = rotated.stdout.trim();
    expect(next).not.toBe(token);
    expect((await readFile(path.join(dataDir, 'token'), 'utf8')).trim()).toBe(next);
    // Until the agent is told, the old token still holds.
    expect((await agent.command({ action: 'list_servers' })).success).toBe(true);

    agent.child.kill('SIGHUP');
    expect(await socket.closed).toBe(4401);
    await waitFor(async () => agent.output().includes('node token rotated'), 'rotation logged');
    const withNew = await fetch(`${agent.url}/api/command`, {
      method: 'POST',
      headers: { authorization: `Bearer ${next}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'list_servers' }),
    });
    expect(withNew.status).toBe(200);
    expect(await withNew.json()).toMatchObject({ success: true });
    const withOld = await fetch(`${agent.url}/api/command`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'list_servers' }),
    });
    expect(withOld.status).toBe(401);
    const reopened = await TestSocket.open(agent.url, { authorization: `Bearer ${next}` });
    expect((await reopened.request({ type: 'command', id: 'c2', action: 'list_servers' })).success).toBe(true);
    reopened.close();
    expect(agent.child.exitCode).toBeNull();
  });

  it('token rotate refuses when the token comes from the configuration, naming where', async () => {
    const { dataDir } = await prepared();
    const refused = await cli(['token', 'rotate'], { AGENT_DATA_DIR: dataDir, AGENT_TOKEN: 'x'.repeat(40) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/set by env AGENT_TOKEN/);
  });
});

describe('doctor', () => {
  it('passes on a live node: our own agent holding the port is no failure; --json parses; nothing is created', async () => {
    const { dataDir, token } = await prepared();
    const port = String(await freePort());
    const env = { AGENT_DATA_DIR: dataDir, AGENT_PORT: port, AGENT_HOST: '127.0.0.1', AGENT_NODE_ID: 'node-doc' };
    const agent = await start(env, token);
    await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, 'ready');

    const text = await cli(['doctor'], env);
    expect(text.stdout).toMatch(/^ok\s+port\s+127\.0\.0\.1:\d+ is held by this node's running agent/m);
    expect(text.code).toBe(0);
    const json = await cli(['doctor', '--json'], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['docker', 'cgroup', 'data-dir', 'port']));
    expect(report.checks.find((c) => c.name === 'port')?.status).toBe('ok');

    // Another node's agent on the port is a failure.
    const other = await cli(['doctor', '--json'], { ...env, AGENT_NODE_ID: 'someone-else' });
    expect(other.code).toBe(3);
    expect(JSON.parse(other.stdout).checks.find((c: { name: string }) => c.name === 'port').status).toBe('fail');

    const missing = path.join(dataDir, 'not-yet');
    await cli(['doctor', '--json'], { ...env, AGENT_DATA_DIR: missing });
    await expect(readFile(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('names the specific fix for a missing socket and for one nobody listens on', async () => {
    const { dataDir } = await prepared();
    const env = { AGENT_DATA_DIR: dataDir, AGENT_PORT: '0' };
    const missing = await cli(['doctor', '--docker-host', `unix://${dataDir}/none.sock`], env);
    expect(missing.code).toBe(3);
    expect(missing.stdout).toMatch(/FAIL\s+docker\s+.*ENOENT/);
    expect(missing.stdout).toMatch(
      /fix: the socket .*none\.sock does not exist: Docker is not installed or not running/,
    );

    // A socket file whose listener died (SIGKILL leaves the file): connect() gets ECONNREFUSED.
    const stale = path.join(dataDir, 'stale.sock');
    const holder = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => holder.stdout?.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    const refused = await cli(['doctor', '--json', '--docker-host', `unix://${stale}`], env);
    expect(refused.code).toBe(3);
    const docker = JSON.parse(refused.stdout).checks.find((c: { name: string }) => c.name === 'docker');
    expect(docker).toMatchObject({ status: 'fail' });
    expect(docker.detail).toMatch(/ECONNREFUSED/);
    expect(docker.fix).toMatch(/dockerd is not running or not listening there/);
  });
});

describe('diagnostics', () => {
  it('reports versions, host, Docker, config sources and log lines, and never shows a secret', async () => {
    const { dataDir, token } = await prepared();
    const apiTokenFile = path.join(dataDir, 'panel-api-token');
    const apiToken = 'panel-api-token-value-9f8e7d6c';
    await writeFile(apiTokenFile, `${apiToken}\n`);
    const logFile = path.join(dataDir, 'logs', 'agent.log');
    const env = {
      AGENT_DATA_DIR: dataDir,
      AGENT_TOKEN: token,
      AGENT_PANEL_API_TOKEN_FILE: apiTokenFile,
      AGENT_LOG_FILE: logFile,
      AGENT_NODE_ID: 'node-diag',
    };
    const agent = await start(env, token);
    // Secrets that leaked into the log by some route the redaction paths did not foresee.
    await appendFile(logFile, `{"level":"warn","msg":"request with Authorization: Bearer ${token}"}\n`);
    await appendFile(logFile, `a stray line with ${apiToken} in it\n`);

    for (const args of [['diagnostics'], ['diagnostics', '--json']]) {
      const { code, stdout } = await cli(args, { ...env, AGENT_PORT: String(agent.port), AGENT_HOST: '127.0.0.1' });
      expect(code).toBe(0);
      expect(stdout).not.toContain(token);
      expect(stdout).not.toContain(apiToken);
      expect(stdout).toContain('[redacted]');
      if (args.includes('--json')) {
        const report = JSON.parse(stdout);
        expect(report.agent.nodeId).toBe('node-diag');
        expect(report.node.version).toBe(process.version);
        expect(report.docker.version.ApiVersion).toMatch(/^1\.\d+$/);
        expect(report.host.kernel).toMatch(/^Linux /);
        expect(report.config.keys.token).toEqual({ value: '[redacted]', source: 'env AGENT_TOKEN' });
        expect(report.config.keys['panel.apiToken'].source).toBe('env AGENT_PANEL_API_TOKEN_FILE');
        expect(report.logs.lines.some((l: string) => l.includes('agent listening'))).toBe(true);
        expect(report.doctor.checks.find((c: { name: string }) => c.name === 'port').status).toBe('ok');
      }
    }
  });
});
