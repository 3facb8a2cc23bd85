// Issue 11 figures: time from create_server to `running` for a local image against `docker create` + `docker
// start` of a container with the very options the agent built (same run, rounds interleaved), and the config
// rewrite before a start for an egg with four files (properties, yaml, json, ini) through the real sandbox.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { applyConfigFiles } from '../dist/files/config-files/apply-config-files.js';
import { DenyList } from '../dist/files/deny-list.js';
import { IdNames } from '../dist/files/file-info.js';
import { ServerFiles } from '../dist/files/server-files.js';
import { startAgentProcess } from '../test/helpers/agent-process.mjs';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';
import { percentile, waitFor } from './lib/measure.mjs';

const ROUNDS = 8;
const median = (xs) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

async function untilRunning(agent, id) {
  for (;;) {
    const status = (await agent.command({ action: 'get_server_status', serverId: id })).data?.status;
    if (status === 'running') return;
    if (status === 'install_failed' || status === 'crashed') throw new Error(`server ${id} ended ${status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** create_server + start_server until `running`, in ms; returns the container's create options for the peer. */
async function viaAgent(agent, docker) {
  const id = randomBytes(16).toString('hex');
  const t0 = performance.now();
  await agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: `~${TEST_IMAGE}`, startup: 'sleep 100000', startOnCompletion: true },
  });
  await untilRunning(agent, id);
  const ms = performance.now() - t0;
  const [c] = await docker.listContainers({ filters: { label: [`ctrl-alt-play.server-id=${id}`] } });
  const info = await docker.getContainer(c.Id).inspect();
  return { ms, info };
}

/** The same container straight from the Engine: create with the agent's own options, start, until running. */
async function viaDocker(docker, info) {
  const t0 = performance.now();
  const container = await docker.createContainer({
    name: `cap-bench-peer-${randomBytes(4).toString('hex')}`,
    Image: info.Config.Image,
    Env: info.Config.Env,
    Cmd: info.Config.Cmd,
    Tty: info.Config.Tty,
    OpenStdin: info.Config.OpenStdin,
    WorkingDir: info.Config.WorkingDir,
    Labels: { 'cap-bench': 'peer' },
    HostConfig: { ...info.HostConfig, PortBindings: {} },
  });
  await container.start();
  for (;;) {
    if ((await container.inspect()).State.Running) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - t0;
  await container.remove({ force: true });
  return ms;
}

async function configRewrite() {
  const root = mkdtempSync(path.join(tmpdir(), 'cap-bench-cfg-'));
  try {
    writeFileSync(
      path.join(root, 'server.properties'),
      '# Minecraft\nserver-port=25565\nmotd=A server\nmax-players=20\n',
    );
    writeFileSync(path.join(root, 'config.yml'), 'listeners:\n- host: 0.0.0.0:25577\n  query_port: 25577\n# end\n');
    writeFileSync(path.join(root, 'settings.json'), '{"server": {"port": 7777, "name": "x"}, "mods": []}\n');
    writeFileSync(path.join(root, 'game.ini'), '[network]\nport=1\n; comment\n[game]\nmode=survival\n');
    const quota = { reserve: async () => {}, headroom: async () => Number.POSITIVE_INFINITY, adjust: () => {} };
    const limits = {
      readMaxBytes: 1 << 20,
      downloadMaxBytes: 1 << 20,
      listMaxEntries: 100,
      searchMaxResults: 10,
      searchMaxDepth: 4,
      searchTimeMs: 1000,
      walkMaxDepth: 32,
      walkMaxEntries: 1000,
    };
    const files = new ServerFiles(root, limits, new IdNames(), undefined, quota, new DenyList());
    const rules = [
      {
        path: 'server.properties',
        parser: 'properties',
        find: { 'server-port': '{{server.build.default.port}}', 'max-players': '{{env.MAX_PLAYERS}}' },
      },
      {
        path: 'config.yml',
        parser: 'yaml',
        find: {
          'listeners[0].host': '0.0.0.0:{{server.build.default.port}}',
          'listeners[0].query_port': '{{server.build.default.port}}',
        },
      },
      {
        path: 'settings.json',
        parser: 'json',
        find: { 'server.port': '{{server.build.default.port}}', 'server.name': 'bench' },
      },
      { path: 'game.ini', parser: 'ini', find: { 'network.port': '{{server.build.default.port}}' } },
    ];
    const context = {
      port: 25570,
      ip: '0.0.0.0',
      memoryMb: 1024,
      environment: { MAX_PLAYERS: '40' },
      gateway: undefined,
    };
    const samples = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const result = await applyConfigFiles(files, rules, context, { maxFiles: 32, maxBytes: 1 << 20 });
      samples.push(performance.now() - t0);
      if (result.skipped.length > 0) throw new Error(`skipped: ${JSON.stringify(result.skipped)}`);
      writeFileSync(path.join(root, 'settings.json'), '{"server": {"port": 7777, "name": "x"}, "mods": []}\n');
    }
    return median(samples.slice(5));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function run(record) {
  const docker = new Docker();
  await ensureTestImage(docker);
  const agent = await startAgentProcess();
  try {
    const ratios = [];
    const agentMs = [];
    const dockerMs = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { ms, info } = await viaAgent(agent, docker);
      const peer = await viaDocker(docker, info);
      agentMs.push(ms);
      dockerMs.push(peer);
      ratios.push(ms / peer);
    }
    record({ name: 'create_server → running via agent (median)', value: median(agentMs), unit: 'ms' });
    record({ name: 'docker create + start, same options (median)', value: median(dockerMs), unit: 'ms' });
    const ratio = median(ratios);
    record({
      name: 'create → running ratio agent/docker',
      value: ratio,
      unit: 'x',
      target: '<= 1.3',
      pass: ratio <= 1.3,
    });
  } finally {
    await agent.stop();
  }
  const rewrite = await configRewrite();
  record({
    name: 'config rewrite before start, 4 files (median)',
    value: rewrite,
    unit: 'ms',
    target: '< 50',
    pass: rewrite < 50,
  });
  await waitFor(async () => true, 'nothing');
}
