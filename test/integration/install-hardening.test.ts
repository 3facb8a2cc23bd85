import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { LABEL_ROLE, LABEL_SERVER_ID } from '../helpers/labels.js';

/**
 * An install script that behaves like a hostile egg: it tries to make a device node, leaves a FIFO and a unix
 * socket, and plants links to a host file and a host directory (paths that do not exist in the container, only
 * on the host, where the agent's post-install walk runs as root).
 */

const docker = new Docker();
const GAME_NETWORK = 'ctrl-alt-play-test';
const installNetwork = `ctrl-alt-play-test-install-${randomBytes(4).toString('hex')}`;
let agent: TestAgent;
let hostDir: string;
let hostFile: string;

beforeAll(async () => {
  hostDir = await mkdtemp(path.join(tmpdir(), 'cap-host-'));
  hostFile = path.join(hostDir, 'hostname');
  await writeFile(hostFile, 'host\n', { mode: 0o644 });
  agent = await startTestAgent({
    docker: { network: GAME_NETWORK, installNetwork },
    servers: { pidsLimit: 300, installCpuPercent: 150 },
  });
});

afterAll(async () => {
  await agent?.stop();
  if (agent) await removeDataDir(agent.dataDir);
  await rm(hostDir, { recursive: true, force: true });
  await docker
    .getNetwork(installNetwork)
    .remove()
    .catch(() => undefined);
});

const SCRIPT = (hostPath: string, hostDirPath: string) => `
cd /mnt/server
grep CapEff /proc/self/status > caps.txt
if mknod null-dev c 1 3 2> mknod-err.txt; then echo allowed > mknod.txt; else echo denied > mknod.txt; fi
mkfifo fifo
# busybox syslogd binds where /dev/log points: a unix socket left in the server directory.
ln -sf /mnt/server/sock /dev/log
syslogd -n -O /dev/null & pid=$!
i=0; while [ ! -S sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -9 $pid
ln -s ${hostPath} host-link
ln -s ${hostDirPath} host-dir-link
echo game > server.jar
# Held until the test has inspected the running container (bounded, so a failed test does not hang it).
i=0; while [ ! -f go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo install done
`;

describe('the install container and what it leaves', () => {
  it('is confined and on its own network, and its leftovers never reach the host', async () => {
    const id = uuid();
    const created = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: {
        image: TEST_IMAGE,
        startup: 'sleep 1',
        limits: { memory: 128, disk: 0, cpu: 50, swap: 0, io: 500 },
        install: { script: SCRIPT(hostFile, hostDir), entrypoint: '/bin/sh' },
      },
    });
    expect(created).toMatchObject({ success: true, data: { status: 'installing' } });
    const serverDir = path.join(agent.dataDir, 'volumes', id);

    const install = await waitFor(async () => {
      const list = await docker.listContainers({
        all: true,
        filters: { label: [`ctrl-alt-play.agent-id=${agent.agentId}`, 'ctrl-alt-play.role=install'] },
      });
      return list.find((c) => c.Labels[LABEL_SERVER_ID] === id && c.State === 'running');
    }, 'the install container to run');
    if (!install) throw new Error('unreachable: waitFor returns a truthy value');
    const info = await docker.getContainer(install.Id).inspect();
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect([...(info.HostConfig.CapAdd ?? [])].sort()).toEqual([
      'CHOWN',
      'DAC_OVERRIDE',
      'FOWNER',
      'KILL',
      'SETGID',
      'SETUID',
    ]);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.PidsLimit).toBe(300);
    // The server's 50 % and 128 MB are below the floors (150 % here, 1024 MB by default).
    expect(info.HostConfig.NanoCpus).toBe(1_500_000_000);
    expect(info.HostConfig.Memory).toBe(1024 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(1024 * 1024 * 1024);
    expect(info.HostConfig.Tmpfs?.['/tmp']).toMatch(/nosuid/);
    expect(info.HostConfig.Tmpfs?.['/tmp']).toMatch(/nodev/);
    // Its own network, not the tenants' game network.
    expect(info.HostConfig.NetworkMode).toBe(installNetwork);
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([installNetwork]);
    const net = await docker.getNetwork(installNetwork).inspect();
    expect(net.Driver).toBe('bridge');
    expect(net.Labels).toMatchObject({ 'ctrl-alt-play.managed': 'true', 'ctrl-alt-play.role': 'install' });
    expect(net.Options?.['com.docker.network.bridge.enable_icc']).toBe('false');
    expect(Object.keys(net.Containers ?? {})).toContain(install.Id);
    const game = await docker.getNetwork(GAME_NETWORK).inspect();
    expect(Object.keys(game.Containers ?? {})).not.toContain(install.Id);

    await writeFile(path.join(serverDir, 'go'), '');
    await waitForStatus(agent, id, 'offline');

    // The capability set the script really had: CHOWN DAC_OVERRIDE FOWNER KILL SETGID SETUID = bits 0 1 3 5 6 7.
    expect((await readFile(path.join(serverDir, 'caps.txt'), 'utf8')).trim()).toMatch(/^CapEff:\s+0+eb$/);
    expect((await readFile(path.join(serverDir, 'mknod.txt'), 'utf8')).trim()).toBe('denied');

    // The host file and directory the links point at keep their owner (root): the walk never followed them.
    for (const p of [hostFile, hostDir]) {
      const st = await stat(p);
      expect([st.uid, st.gid], p).toEqual([0, 0]);
    }
    // The links are still there, re-owned themselves; the game's files are the game user's (988, "auto").
    const link = await lstat(path.join(serverDir, 'host-link'));
    expect(link.isSymbolicLink()).toBe(true);
    expect([link.uid, link.gid]).toEqual([988, 988]);
    for (const name of ['', 'server.jar', 'caps.txt']) {
      const st = await lstat(path.join(serverDir, name));
      expect([st.uid, st.gid], name).toEqual([988, 988]);
    }
    // FIFO and socket removed; the device node was never made.
    for (const name of ['fifo', 'sock', 'null-dev']) {
      await expect(lstat(path.join(serverDir, name)), name).rejects.toMatchObject({ code: 'ENOENT' });
    }
    // The console says so.
    const logs = await agent.command({ action: 'get_server_logs', serverId: id, payload: { lines: 200 } });
    expect(logs.data.logs.join('\n')).toMatch(/removed 2 device node\(s\), FIFO\(s\) or socket\(s\)/);
    expect(logs.data.logs.join('\n')).toContain('install done');

    // The install container is gone; the game container is on the game network only.
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`ctrl-alt-play.agent-id=${agent.agentId}`, `ctrl-alt-play.server-id=${id}`] },
    });
    expect(left.map((c) => c.Labels[LABEL_ROLE])).toEqual(['server']);
    const server = await docker.getContainer(left[0]?.Id ?? '').inspect();
    expect(server.HostConfig.NetworkMode).toBe(GAME_NETWORK);

    await agent.command({ action: 'delete_server', serverId: id });
  });
});
