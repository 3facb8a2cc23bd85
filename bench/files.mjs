// Issue 5 figures: listing a directory of 10,000 files, and streaming upload/download throughput against a plain
// stream copy of the same file on the same disk, measured in the same run.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';
import { startAgentProcess, waitFor } from './lib/agent.mjs';

const SIZE_MB = 256;
// The same 1 MiB buffers on every side (baseline copy, client and agent), so the ratio compares paths, not buffers.
const CHUNK = { highWaterMark: 1024 * 1024 };

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** curl as the client (as an operator would script it); BENCH_CLIENT=node uses a Node client with 1 MiB buffers. */
function curlTransfer(method, url, token, file) {
  const args = ['-sS', '-f', '-o', method === 'GET' ? file : '/dev/null', '-H', `authorization: Bearer ${token}`];
  if (method === 'PUT') args.push('-T', file);
  return new Promise((resolve, reject) => {
    execFile('curl', [...args, url], (err) => (err ? reject(err) : resolve()));
  });
}

function transfer(method, url, token, file) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      if (method === 'GET') pipeline(res, createWriteStream(file, CHUNK)).then(resolve, reject);
      else {
        res.resume();
        res.on('end', resolve);
      }
    });
    req.on('error', reject);
    if (method === 'PUT') pipeline(createReadStream(file, CHUNK), req).catch(reject);
    else req.end();
  });
}

export async function run(record) {
  await ensureTestImage(new Docker());
  const agent = await startAgentProcess();
  try {
    const id = randomBytes(16).toString('hex');
    await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE } });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status === 'offline',
      'install',
    );
    const root = path.join(agent.dataDir, 'volumes', id);

    // Listing 10,000 files.
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

    // Streaming throughput against a plain stream copy on the same disk.
    const source = path.join(agent.dataDir, 'bench-source.bin');
    const chunk = randomBytes(1024 * 1024);
    const ws = createWriteStream(source);
    for (let i = 0; i < SIZE_MB; i++) if (!ws.write(chunk)) await new Promise((r) => ws.once('drain', r));
    await new Promise((r) => ws.end(r));
    const url = `${agent.url}/api/servers/${id}/files/content?path=%2Fupload.bin`;
    const hasCurl = (() => {
      try {
        execFileSync('curl', ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    const move = hasCurl && process.env.BENCH_CLIENT !== 'node' ? curlTransfer : transfer;
    // Rounds of copy, upload, download back to back, each transfer compared with the copy of its own round: the
    // disk and page cache here are shared and drift within seconds, so a ratio of medians taken minutes apart
    // would measure the machine. The figures are the medians over the rounds.
    const ROUNDS = 7;
    const rounds = [];
    const copy = () =>
      pipeline(createReadStream(source, CHUNK), createWriteStream(path.join(agent.dataDir, 'bench-copy.bin'), CHUNK));
    await copy(); // warm-up: page cache, JIT
    await move('PUT', url, agent.token, source);
    for (let round = 0; round < ROUNDS; round++) {
      const copyMs = await timed(copy);
      const upMs = await timed(() => move('PUT', url, agent.token, source));
      const downMs = await timed(() => move('GET', url, agent.token, path.join(agent.dataDir, 'bench-download.bin')));
      rounds.push({ copyMs, upMs, downMs });
    }
    const median = (pick) => rounds.map(pick).sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
    const mbps = (ms) => SIZE_MB / (ms / 1000);
    record({ name: `plain stream copy of ${SIZE_MB} MB (median)`, value: mbps(median((r) => r.copyMs)), unit: 'MB/s' });
    record({ name: 'streaming upload via agent (median)', value: mbps(median((r) => r.upMs)), unit: 'MB/s' });
    record({ name: 'streaming download via agent (median)', value: mbps(median((r) => r.downMs)), unit: 'MB/s' });
    const up = median((r) => r.copyMs / r.upMs);
    const down = median((r) => r.copyMs / r.downMs);
    record({ name: 'upload throughput ratio agent/copy', value: up, unit: 'x', target: '>= 0.7', pass: up >= 0.7 });
    record({
      name: 'download throughput ratio agent/copy',
      value: down,
      unit: 'x',
      target: '>= 0.7',
      pass: down >= 0.7,
    });
    for (const f of ['bench-source.bin', 'bench-copy.bin', 'bench-download.bin'])
      await rm(path.join(agent.dataDir, f), { force: true });
  } finally {
    await agent.stop();
  }
}
