// Issue 5 and 13 figures: listing a directory of 10,000 files, and streaming upload/download throughput of the
// agent against two peers measured in the same run: Go net/http (bench/peers/gofs.go, the stack Wings serves files
// with) and bare node:http (bench/peers/nodefs.mjs, what Node's own HTTP stack reaches). Same client (curl), same
// 256 MiB file, same disk, rounds interleaved.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { startAgentProcess } from '../test/helpers/agent-process.mjs';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';
import { guaranteeCosts } from './lib/file-guarantees.mjs';
import { buildGoPeer, startGoPeer, startNodePeer } from './lib/file-peers.mjs';
import { request } from './lib/http.mjs';
import { waitFor } from './lib/measure.mjs';

const SIZE_MIB = 256;
const ROUNDS = Number(process.env.BENCH_FILE_ROUNDS ?? 9);

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** curl as the client, as an operator would script it; -f makes an HTTP error a failed transfer. */
function curl(method, url, token, file) {
  const args = ['-sS', '-f', '-o', method === 'GET' ? file : '/dev/null', '-H', `authorization: Bearer ${token}`];
  if (method === 'PUT') args.push('-T', file);
  return new Promise((resolve, reject) => {
    execFile('curl', [...args, url], (err, _out, stderr) => (err ? reject(new Error(`${url}: ${stderr}`)) : resolve()));
  });
}

/** CPU time (user + system, every thread) a process has used, in ms. */
async function cpuMs(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function listing(agent, root, id, record) {
  await mkdir(path.join(root, 'many'));
  for (let i = 0; i < 10_000; i++) await writeFile(path.join(root, 'many', `file-${i}.txt`), 'x');
  await agent.command({ action: 'list_files', serverId: id, payload: { path: '/many' } }); // warm-up
  const viaAgent = await timed(async () => {
    const r = await agent.command({ action: 'list_files', serverId: id, payload: { path: '/many' } });
    if (r.data.files.length !== 10_000) throw new Error('listing incomplete');
  });
  const raw = await timed(async () => {
    const names = await readdir(path.join(root, 'many'));
    for (const n of names) await lstat(path.join(root, 'many', n));
  });
  record({ name: 'list_files of 10,000 files', value: viaAgent, unit: 'ms' });
  record({ name: 'readdir + lstat of the same 10,000 (direct)', value: raw, unit: 'ms' });
  await rm(path.join(root, 'many'), { recursive: true });
}

/**
 * The per-request path (Fastify's routing and hooks, the auth check, the sandbox's open): a 1 KiB GET over a
 * keep-alive connection, p50 of 300, sides interleaved in batches. What a 256 MiB transfer pays once.
 */
async function requestLatency(sides, token, roots, record) {
  for (const side of sides) await writeFile(path.join(roots[side.key], 'small.bin'), randomBytes(1024));
  const samples = Object.fromEntries(sides.map((s) => [s.key, []]));
  const headers = { authorization: `Bearer ${token}` };
  for (let batch = 0; batch < 6; batch++) {
    for (const side of sides) {
      for (let i = 0; i < 55; i++) {
        const t0 = performance.now();
        const res = await request({ url: side.small, path: side.small, headers });
        if (res.status !== 200) throw new Error(`${side.name}: HTTP ${res.status}`);
        if (i >= 5) samples[side.key].push(performance.now() - t0); // the first of a batch warm the socket
      }
    }
  }
  for (const side of sides) {
    record({ name: `1 KiB GET, ${side.name} (p50 of 300, keep-alive)`, value: median(samples[side.key]), unit: 'ms' });
  }
}

export async function run(record) {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
  } catch {
    console.log('  skipped: no curl on PATH (apt-get install -y curl); the streaming figures need it as the client');
    return;
  }
  await ensureTestImage(new Docker());
  const go = await buildGoPeer();
  if (go.skipped) console.log(`  ${go.skipped}`);
  const agent = await startAgentProcess();
  const peerRoots = await mkdtemp(path.join(path.dirname(agent.dataDir), 'cap-bench-peers-'));
  const started = [];
  try {
    const id = randomBytes(16).toString('hex');
    // A disk limit, so the quota is enforced while the bytes flow, as on a real node.
    const payload = { image: TEST_IMAGE, limits: { disk: 64 * 1024 } };
    await agent.command({ action: 'create_server', serverId: id, payload });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status === 'offline',
      'install',
    );
    const root = path.join(agent.dataDir, 'volumes', id);
    await listing(agent, root, id, record);

    // Every side on the same disk (the agent's data directory and the peers' roots share one parent).
    const source = path.join(agent.dataDir, 'bench-source.bin');
    const download = path.join(agent.dataDir, 'bench-download.bin');
    const chunk = randomBytes(1024 * 1024);
    const ws = createWriteStream(source);
    for (let i = 0; i < SIZE_MIB; i++) if (!ws.write(chunk)) await new Promise((r) => ws.once('drain', r));
    await new Promise((r) => ws.end(r));

    const sides = [];
    if (go.binary) {
      await mkdir(path.join(peerRoots, 'go'));
      const peer = await startGoPeer(go.binary, path.join(peerRoots, 'go'), agent.token);
      started.push(peer);
      sides.push({
        key: 'go',
        name: peer.name,
        pid: peer.pid,
        url: peer.url('upload.bin'),
        small: peer.url('small.bin'),
        stored: path.join(peerRoots, 'go', 'upload.bin'),
      });
    }
    await mkdir(path.join(peerRoots, 'node'));
    const nodePeer = await startNodePeer(path.join(peerRoots, 'node'), agent.token);
    started.push(nodePeer);
    sides.push({
      key: 'node',
      name: nodePeer.name,
      pid: nodePeer.pid,
      url: nodePeer.url('upload.bin'),
      small: nodePeer.url('small.bin'),
      stored: path.join(peerRoots, 'node', 'upload.bin'),
    });
    const content = `${agent.url}/api/servers/${id}/files/content?path=`;
    sides.push({
      key: 'agent',
      name: 'agent',
      pid: agent.pid,
      url: `${content}%2Fupload.bin`,
      small: `${content}%2Fsmall.bin`,
      stored: path.join(root, 'upload.bin'),
    });

    const once = async (side, method) => {
      const cpu0 = await cpuMs(side.pid);
      const ms = await timed(() => curl(method, side.url, agent.token, method === 'PUT' ? source : download));
      const cpu = (await cpuMs(side.pid)) - cpu0;
      const size = (await stat(method === 'PUT' ? side.stored : download)).size;
      if (size !== SIZE_MIB * 1024 * 1024) throw new Error(`${side.name} ${method}: ${size} bytes`);
      return { ms, cpu };
    };
    for (const side of sides) await once(side, 'PUT'); // warm-up: page cache, JIT, the disk figure
    for (const side of sides) await once(side, 'GET');
    // Rounds: every side uploads, then every side downloads, the starting side rotating each round so no side
    // always follows another's writeback. The machines here are shared and drift within seconds: each ratio is
    // taken within its round and the figure is the median of those ratios.
    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = sides.map((_, i) => sides[(i + round) % sides.length]);
      const r = {};
      for (const side of order) r[`${side.key}.up`] = await once(side, 'PUT');
      for (const side of order) r[`${side.key}.down`] = await once(side, 'GET');
      rounds.push(r);
    }
    const mibps = (ms) => SIZE_MIB / (ms / 1000);
    for (const dir of ['up', 'down']) {
      const word = dir === 'up' ? 'upload' : 'download';
      for (const side of sides) {
        record({
          name: `streaming ${word}, ${side.name} (median)`,
          value: mibps(median(rounds.map((r) => r[`${side.key}.${dir}`].ms))),
          unit: 'MiB/s',
        });
        // The server's own CPU for the transfer: on a shared machine the figure that drifts least.
        record({
          name: `streaming ${word}, ${side.name}: server CPU per ${SIZE_MIB} MiB (median)`,
          value: median(rounds.map((r) => r[`${side.key}.${dir}`].cpu)),
          unit: 'ms',
        });
      }
      for (const peer of sides.filter((s) => s.key !== 'agent')) {
        const ratio = median(rounds.map((r) => r[`${peer.key}.${dir}`].ms / r[`agent.${dir}`].ms));
        const target = peer.key === 'go' ? '>= 1.0' : null;
        record({
          name: `${word} ratio agent/${peer.key === 'go' ? 'Go net/http' : 'bare node:http'}`,
          value: ratio,
          unit: 'x',
          target,
          pass: target ? ratio >= 1.0 : null,
        });
      }
    }
    // Like for like on durability: no side fsyncs before its rename (gofs: io.Copy, Close, Rename; nodefs: the
    // same; the agent: { fsync: false } in file-routes.ts), so there is one figure, not two.
    record({ name: 'fsync before rename (Go, node, agent)', value: 'none, none, none', unit: '' });
    await rm(source, { force: true });
    await rm(download, { force: true });

    await requestLatency(
      sides,
      agent.token,
      { go: path.join(peerRoots, 'go'), node: path.join(peerRoots, 'node'), agent: root },
      record,
    );
    await guaranteeCosts(record, { sizeMib: SIZE_MIB, uploadMs: median(rounds.map((r) => r['agent.up'].ms)) });
  } finally {
    for (const peer of started) await peer.stop();
    await rm(peerRoots, { recursive: true, force: true });
    if (go.dir) await rm(go.dir, { recursive: true, force: true });
    await agent.stop();
  }
}
