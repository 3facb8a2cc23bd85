import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sanitizeTree } from '../../../src/files/tree-sanitize.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const OWNER = { uid: 4242, gid: 4343 };
const BOUNDS = { maxEntries: 10_000, maxDepth: 64 };

let base: string;
let root: string;
let outside: string;
const servers: Server[] = [];

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'cap-sanitize-'));
  root = path.join(base, 'server');
  outside = path.join(base, 'host');
  await mkdir(root);
  await mkdir(outside);
});

afterEach(async () => {
  for (const s of servers.splice(0)) s.close();
  await rm(base, { recursive: true, force: true });
});

async function mkfifo(p: string): Promise<void> {
  await run('mkfifo', [p]);
}

/** A listening unix socket leaves a socket inode at `p`. */
async function mksock(p: string): Promise<void> {
  const s = createServer();
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(p, resolve));
}

async function openFds(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

describe.skipIf(!isRoot)('the post-install walk (as root)', () => {
  it('re-owns everything inside without following a link to a host file or directory', async () => {
    const hostFile = path.join(outside, 'passwd');
    await writeFile(hostFile, 'root:x:0:0\n');
    await writeFile(path.join(outside, 'inner'), 'x');
    await symlink(hostFile, path.join(root, 'host-link'));
    await symlink(outside, path.join(root, 'host-dir-link'));
    await mkdir(path.join(root, 'a/b'), { recursive: true });
    await writeFile(path.join(root, 'a/b/file'), 'data');
    await symlink('../../../host/passwd', path.join(root, 'a/b/relative-link'));

    const result = await sanitizeTree(root, { owner: OWNER, ...BOUNDS });

    for (const p of [hostFile, outside, path.join(outside, 'inner')]) {
      const st = await stat(p);
      expect([st.uid, st.gid], p).toEqual([0, 0]);
    }
    for (const p of ['', 'a', 'a/b', 'a/b/file', 'host-link', 'host-dir-link', 'a/b/relative-link']) {
      const st = await lstat(path.join(root, p));
      expect([st.uid, st.gid], p).toEqual([OWNER.uid, OWNER.gid]);
    }
    // The links themselves are left as they were (only their owner changed).
    expect(await readlink(path.join(root, 'host-link'))).toBe(hostFile);
    expect(result).toEqual({ removed: 0, chowned: 7, modesCleared: 0, skipped: 0, truncated: false });
    // Nothing to change the second time round.
    expect(await sanitizeTree(root, { owner: OWNER, ...BOUNDS })).toMatchObject({ chowned: 0, removed: 0 });
  });

  it('removes device nodes, FIFOs and sockets at any depth without opening a FIFO', async () => {
    await mkdir(path.join(root, 'deep/er'), { recursive: true });
    await run('mknod', [path.join(root, 'null-dev'), 'c', '1', '3']);
    await run('mknod', [path.join(root, 'deep/block-dev'), 'b', '7', '0']);
    // Opening this FIFO for reading would block the walk forever: the test would time out.
    await mkfifo(path.join(root, 'deep/er/fifo'));
    await mksock(path.join(root, 'deep/sock'));
    await writeFile(path.join(root, 'deep/er/keep'), 'x');
    // A FIFO outside, reached through a link, stays.
    await mkfifo(path.join(outside, 'host-fifo'));
    await symlink(path.join(outside, 'host-fifo'), path.join(root, 'fifo-link'));

    const result = await sanitizeTree(root, { owner: OWNER, ...BOUNDS });

    expect(result.removed).toBe(4);
    expect((await readdir(root)).sort()).toEqual(['deep', 'fifo-link']);
    expect((await readdir(path.join(root, 'deep'))).sort()).toEqual(['er']);
    expect(await readdir(path.join(root, 'deep/er'))).toEqual(['keep']);
    expect((await lstat(path.join(outside, 'host-fifo'))).isFIFO()).toBe(true);
  });

  it('clears setuid and setgid bits on files inside, never on a linked host file', async () => {
    const hostBin = path.join(outside, 'suid');
    await writeFile(hostBin, '#!/bin/sh\n');
    await chmod(hostBin, 0o4755);
    await symlink(hostBin, path.join(root, 'suid-link'));
    await writeFile(path.join(root, 'suid'), '#!/bin/sh\n');
    await chmod(path.join(root, 'suid'), 0o6755);
    await mkdir(path.join(root, 'sgid-dir'));
    await chmod(path.join(root, 'sgid-dir'), 0o2775);

    const result = await sanitizeTree(root, { owner: undefined, ...BOUNDS });

    expect(result.modesCleared).toBe(1);
    expect((await stat(path.join(root, 'suid'))).mode & 0o7777).toBe(0o755);
    expect((await stat(hostBin)).mode & 0o7777).toBe(0o4755);
    // setgid on a directory is group inheritance, not an escalation: kept.
    expect((await stat(path.join(root, 'sgid-dir'))).mode & 0o7777).toBe(0o2775);
  });

  it('leaves ownership alone without an owner, but still removes special files', async () => {
    await writeFile(path.join(root, 'f'), 'x');
    await mkfifo(path.join(root, 'fifo'));
    const result = await sanitizeTree(root, { owner: undefined, ...BOUNDS });
    expect(result).toEqual({ removed: 1, chowned: 0, modesCleared: 0, skipped: 0, truncated: false });
    expect((await lstat(path.join(root, 'f'))).uid).toBe(0);
  });

  it('refuses a root that is itself a symlink', async () => {
    const link = path.join(base, 'root-link');
    await symlink(outside, link);
    // O_DIRECTORY | O_NOFOLLOW on a symlink: Linux says ENOTDIR (ELOOP without O_DIRECTORY).
    const err = await sanitizeTree(link, { owner: OWNER, ...BOUNDS }).catch((e: NodeJS.ErrnoException) => e);
    expect(['ENOTDIR', 'ELOOP']).toContain((err as NodeJS.ErrnoException).code);
    expect((await stat(outside)).uid).toBe(0);
  });

  it('stops at the depth bound with open descriptors bounded and none leaked', async () => {
    const depth = 40;
    const levels = Array.from({ length: depth }, (_, i) => `d${i}`);
    await mkdir(path.join(root, ...levels), { recursive: true });
    await mkfifo(path.join(root, ...levels, 'deep-fifo'));
    const before = await openFds();
    let peak = before;
    const sampler = setInterval(() => {
      void openFds().then((n) => {
        peak = Math.max(peak, n);
      });
    }, 1);
    const result = await sanitizeTree(root, { owner: OWNER, maxEntries: 10_000, maxDepth: 10 });
    clearInterval(sampler);

    expect(result.truncated).toBe(true);
    expect(result.skipped).toBe(1);
    // root + d0..d10 re-owned (d10 is re-owned but not entered); d11 and below keep their owner.
    expect(result.chowned).toBe(12);
    expect((await stat(path.join(root, ...levels.slice(0, 11)))).uid).toBe(OWNER.uid);
    expect((await stat(path.join(root, ...levels.slice(0, 12)))).uid).toBe(0);
    expect((await lstat(path.join(root, ...levels, 'deep-fifo'))).isFIFO()).toBe(true);
    // Two descriptors per level held (handle and Dir), plus slack for the sampler itself.
    expect(peak - before).toBeLessThanOrEqual(2 * 11 + 4);
    expect(await openFds()).toBe(before);
  });

  it('stops after maxEntries entries', async () => {
    for (let i = 0; i < 50; i++) await writeFile(path.join(root, `f${i}`), '');
    const result = await sanitizeTree(root, { owner: OWNER, maxEntries: 20, maxDepth: 64 });
    expect(result.truncated).toBe(true);
    expect(result.chowned).toBe(21); // the root and 20 entries
    let owned = 0;
    for (const name of await readdir(root)) if ((await lstat(path.join(root, name))).uid === OWNER.uid) owned++;
    expect(owned).toBe(20);
  });

  it('leaves no special file and re-owns every entry of a random tree, and never what a link points to', async () => {
    type Node = { kind: 'file' | 'fifo' | 'sock' | 'dev' | 'link-out' | 'link-in' } | { kind: 'dir'; children: Node[] };
    const leaf = fc.constantFrom<Node>(
      { kind: 'file' },
      { kind: 'fifo' },
      { kind: 'sock' },
      { kind: 'dev' },
      { kind: 'link-out' },
      { kind: 'link-in' },
    );
    const tree = fc.letrec<{ node: Node }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }).map((children): Node => ({ kind: 'dir', children })),
      ),
    })).node;
    const hostFile = path.join(outside, 'target');
    await writeFile(hostFile, 'x');

    await fc.assert(
      fc.asyncProperty(fc.array(tree, { maxLength: 6 }), async (nodes) => {
        await rm(root, { recursive: true, force: true });
        await mkdir(root);
        let sockets = 0;
        const build = async (dir: string, list: Node[]): Promise<void> => {
          for (const [i, node] of list.entries()) {
            const p = path.join(dir, `${node.kind}-${i}`);
            if (node.kind === 'dir') {
              await mkdir(p);
              await build(p, node.children);
            } else if (node.kind === 'file') await writeFile(p, '');
            else if (node.kind === 'fifo') await mkfifo(p);
            else if (node.kind === 'sock' && sockets++ < 3) await mksock(p);
            else if (node.kind === 'dev') await run('mknod', [p, 'c', '1', '3']);
            else if (node.kind === 'link-out') await symlink(hostFile, p);
            else await symlink('.', p);
          }
        };
        await build(root, nodes);
        await sanitizeTree(root, { owner: OWNER, ...BOUNDS });
        const check = async (dir: string): Promise<void> => {
          for (const name of await readdir(dir)) {
            const st = await lstat(path.join(dir, name));
            expect(st.isFIFO() || st.isSocket() || st.isCharacterDevice() || st.isBlockDevice()).toBe(false);
            expect([st.uid, st.gid]).toEqual([OWNER.uid, OWNER.gid]);
            if (st.isDirectory()) await check(path.join(dir, name));
          }
        };
        await check(root);
        const host = await stat(hostFile);
        expect([host.uid, host.gid]).toEqual([0, 0]);
        for (const s of servers.splice(0)) s.close();
      }),
      { numRuns: 15 },
    );
  });
});
