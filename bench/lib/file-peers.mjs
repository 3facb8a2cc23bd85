// The peers of the streaming file benchmark (bench/files.mjs), started as their own processes beside the agent:
// Go net/http (bench/peers/gofs.go, the stack Wings serves files with) and bare node:http (bench/peers/nodefs.mjs).
// Both take ROOT ADDR TOKEN and serve /file?path=NAME (GET with sendfile on Go's side, PUT into NAME.part + rename).
import { execFileSync, spawn } from 'node:child_process';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PEERS = path.resolve(import.meta.dirname, '../peers');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

/** Resolves once something accepts TCP connections on `port`. */
async function listening(port, child, name) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.end(() => resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not listen on ${port}`);
}

async function startPeer(name, command, args, root, token) {
  const port = await freePort();
  const child = spawn(command, [...args(root, port), token], { stdio: ['ignore', 'ignore', 'inherit'] });
  await listening(port, child, name);
  return {
    name,
    pid: child.pid,
    url: (file) => `http://127.0.0.1:${port}/file?path=${encodeURIComponent(file)}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Builds gofs with the `go` on PATH (Debian: apt-get install golang-go) into a temporary directory. Returns
 * undefined with the reason when there is no Go toolchain, so the benchmark can skip that peer and say why.
 */
export async function buildGoPeer() {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    return { skipped: 'no `go` on PATH (apt-get install -y golang-go): the Go net/http peer is not measured' };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'cap-bench-gofs-'));
  await copyFile(path.join(PEERS, 'gofs.go'), path.join(dir, 'gofs.go'));
  await writeFile(path.join(dir, 'go.mod'), 'module baseline\n\ngo 1.19\n');
  // GOFLAGS=-mod=mod and no network: gofs has no dependencies, and GOTOOLCHAIN=local keeps a newer go from
  // trying to download a toolchain.
  execFileSync('go', ['build', '-o', 'gofs', 'gofs.go'], {
    cwd: dir,
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { binary: path.join(dir, 'gofs'), dir };
}

export function startGoPeer(binary, root, token) {
  return startPeer('Go net/http', binary, (r, port) => [r, `127.0.0.1:${port}`], root, token);
}

export function startNodePeer(root, token) {
  return startPeer(
    'bare node:http',
    process.execPath,
    (r, port) => [path.join(PEERS, 'nodefs.mjs'), r, String(port)],
    root,
    token,
  );
}
