import { execFileSync } from 'node:child_process';
import { constants, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { makeSandbox, type Sandbox } from '../../helpers/sandbox.js';

/**
 * The sandbox as a hostile tenant meets it, without Docker: FIFOs, devices, links, deep trees, lying archives.
 * Each case is a finding of the security review (issue 10) and failed before the fix.
 */

const isRoot = process.getuid?.() === 0;
let boxes: Sandbox[] = [];
function sandbox(options?: Parameters<typeof makeSandbox>[0]): Sandbox {
  const box = makeSandbox(options);
  boxes.push(box);
  return box;
}
afterEach(() => {
  for (const box of boxes) box.cleanup();
  boxes = [];
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'resolved';
}

function zipOf(entries: Record<string, Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(data, name, { compress: true });
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

function tarOf(entries: Record<string, Buffer>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, data] of Object.entries(entries)) pack.entry({ name }, data);
  pack.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
}

/** Offset of the first local file header's data. */
function zipDataOffset(zip: Buffer): number {
  return 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
}

describe('special files are never opened for their contents', () => {
  it('refuses FIFOs at once, so a handful of them cannot freeze every file operation', async () => {
    const box = sandbox();
    for (let i = 0; i < 6; i++) execFileSync('mkfifo', [path.join(box.root, `pipe${i}`)]);
    writeFileSync(path.join(box.root, 'ok.txt'), 'fine');
    const codes = await Promise.all(Array.from({ length: 6 }, (_, i) => codeOf(box.files.read(`/pipe${i}`))));
    expect(codes).toEqual(Array(6).fill('INVALID_PATH'));
    // The libuv pool is free: an ordinary read still completes.
    expect((await box.files.read('/ok.txt')).bytes.toString()).toBe('fine');
    expect(await codeOf(box.files.openForDownload('/pipe0'))).toBe('INVALID_PATH');
    expect(await codeOf(box.files.setPermissions('/pipe0', 0o644))).toBe('INVALID_PATH');
    expect(await codeOf(box.archiver.extract('/pipe0', '/'))).toBe('INVALID_PATH');
  });

  it.runIf(isRoot)('refuses device nodes and leaves them out of copies and archives', async () => {
    const box = sandbox();
    mkdirSync(path.join(box.root, 'dir'));
    execFileSync('mknod', [path.join(box.root, 'dir', 'zero'), 'c', '1', '5']);
    execFileSync('mkfifo', [path.join(box.root, 'dir', 'pipe')]);
    writeFileSync(path.join(box.root, 'dir', 'real.txt'), 'data');
    expect(await codeOf(box.files.read('/dir/zero'))).toBe('INVALID_PATH');
    const copied = await box.files.copy('/dir', '/copy');
    expect(copied.skipped).toBe(2);
    expect(readFileSync(path.join(box.root, 'copy', 'real.txt'), 'utf8')).toBe('data');
    expect(existsSync(path.join(box.root, 'copy', 'zero'))).toBe(false);
    const archive = await box.archiver.create(['/dir'], '/dir.zip', 'zip');
    expect(archive.entries).toBe(2); // dir/ and dir/real.txt
    expect(archive.size).toBeLessThan(4096);
  });

  it('reads no more than the cap even when the file grows past what fstat said', async () => {
    const box = sandbox({ limits: { readMaxBytes: 1024 } });
    writeFileSync(path.join(box.root, 'big.log'), Buffer.alloc(2048));
    expect(await codeOf(box.files.read('/big.log'))).toBe('FILE_TOO_LARGE');
  });
});

describe('the denylist is the sandbox’s, on resolved paths and whole subtrees', () => {
  function protectedTree(): Sandbox {
    const box = sandbox({ deny: ['secret/**', 'license.key'] });
    mkdirSync(path.join(box.root, 'secret'));
    writeFileSync(path.join(box.root, 'secret', 'token.txt'), 'hidden');
    writeFileSync(path.join(box.root, 'license.key'), 'KEY');
    mkdirSync(path.join(box.root, 'plugins'));
    writeFileSync(path.join(box.root, 'plugins', 'license.key'), 'KEY2');
    writeFileSync(path.join(box.root, 'plugins', 'a.jar'), 'jar');
    symlinkSync('license.key', path.join(box.root, 'alias'));
    return box;
  }

  it('refuses the protected names, a link to them, and the directory itself', async () => {
    const box = protectedTree();
    expect(await codeOf(box.files.read('/license.key'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(box.files.read('/alias'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(box.files.read('/plugins/license.key'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(box.files.list('/secret'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(box.files.delete('/secret'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(box.files.write('/secret/new.txt', Buffer.from('x')))).toBe('PERMISSION_DENIED');
    expect(existsSync(path.join(box.root, 'secret', 'token.txt'))).toBe(true);
  });

  it('refuses to move, copy or delete a directory that carries a protected file, before changing anything', async () => {
    const box = protectedTree();
    expect(await codeOf(box.files.move('/plugins', '/moved', ['oldPath', 'newPath']))).toBe('PERMISSION_DENIED');
    expect(await codeOf(box.files.copy('/plugins', '/copied'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(box.files.delete('/plugins'))).toBe('PERMISSION_DENIED');
    expect(existsSync(path.join(box.root, 'plugins', 'a.jar'))).toBe(true);
    expect(existsSync(path.join(box.root, 'moved'))).toBe(false);
    expect(existsSync(path.join(box.root, 'copied'))).toBe(false);
  });

  it('leaves protected files out of archives and never overwrites them from one', async () => {
    const box = protectedTree();
    const created = await box.archiver.create(['/'], '/all.tar', 'tar');
    const names: string[] = [];
    const extract = tarStream.extract();
    extract.on('entry', (header, stream, next) => {
      names.push(header.name);
      stream.resume();
      next();
    });
    extract.end(readFileSync(path.join(box.root, 'all.tar')));
    await new Promise<void>((resolve) => extract.on('finish', () => resolve()));
    expect(names.sort()).toEqual(['plugins/', 'plugins/a.jar']);
    expect(created.entries).toBe(2);

    writeFileSync(
      path.join(box.root, 'evil.zip'),
      await zipOf({
        'license.key': Buffer.from('OVERWRITTEN'),
        'secret/token.txt': Buffer.from('X'),
        'ok.txt': Buffer.from('ok'),
      }),
    );
    const result = await box.archiver.extract('/evil.zip', '/');
    expect(readFileSync(path.join(box.root, 'license.key'), 'utf8')).toBe('KEY');
    expect(readFileSync(path.join(box.root, 'secret', 'token.txt'), 'utf8')).toBe('hidden');
    expect(readFileSync(path.join(box.root, 'ok.txt'), 'utf8')).toBe('ok');
    expect(result.skipped).toBe(2);
  });
});

describe('recursion is bounded by real locations, depth and descriptors', () => {
  it('refuses to copy a directory into itself through a link', async () => {
    const box = sandbox();
    mkdirSync(path.join(box.root, 'dir', 'sub'), { recursive: true });
    writeFileSync(path.join(box.root, 'dir', 'f'), 'x');
    symlinkSync('dir', path.join(box.root, 'link'));
    expect(await codeOf(box.files.copy('/link', '/dir/sub/copy'))).toBe('INVALID_PATH');
    expect(existsSync(path.join(box.root, 'dir', 'sub', 'copy'))).toBe(false);
  });

  async function deepTree(root: string, depth: number): Promise<void> {
    // Built through descriptors: the path of the deepest level is far past PATH_MAX.
    let dir = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
    await mkdir(`/proc/self/fd/${dir.fd}/deep`);
    let next = await open(`/proc/self/fd/${dir.fd}/deep`, constants.O_RDONLY | constants.O_DIRECTORY);
    await dir.close();
    dir = next;
    for (let i = 0; i < depth; i++) {
      await mkdir(`/proc/self/fd/${dir.fd}/dddd`);
      writeFileSync(`/proc/self/fd/${dir.fd}/f`, 'x');
      next = await open(`/proc/self/fd/${dir.fd}/dddd`, constants.O_RDONLY | constants.O_DIRECTORY);
      await dir.close();
      dir = next;
    }
    await dir.close();
  }

  it('deletes a tree a thousand levels deep with one handle at a time', async () => {
    const box = sandbox();
    await deepTree(box.root, 1000); // 5,000 bytes of path: past PATH_MAX
    await box.files.delete('/deep');
    expect(existsSync(path.join(box.root, 'deep'))).toBe(false);
  });

  it('refuses to copy or archive a tree deeper than the cap, with a clear error instead of EMFILE', async () => {
    const box = sandbox({ limits: { walkMaxDepth: 32 } });
    await deepTree(box.root, 200);
    expect(await codeOf(box.files.copy('/deep', '/copy'))).toBe('FILE_TOO_LARGE');
    expect(await codeOf(box.archiver.create(['/deep'], '/deep.zip', 'zip'))).toBe('FILE_TOO_LARGE');
    expect(existsSync(path.join(box.root, 'deep.zip'))).toBe(false);
  });
});

describe('archives are hostile input', () => {
  it('fails a zip with a corrupt deflate stream cleanly, leaving nothing behind', async () => {
    const box = sandbox();
    const zip = await zipOf({ 'world/level.dat': Buffer.alloc(64 * 1024, 'a') });
    zip[zipDataOffset(zip)] = 0xff; // BFINAL=1, BTYPE=11: an invalid deflate block
    writeFileSync(path.join(box.root, 'bad.zip'), zip);
    expect(await codeOf(box.archiver.extract('/bad.zip', '/'))).toBe('INVALID_PAYLOAD');
    expect(existsSync(path.join(box.root, 'world', 'level.dat'))).toBe(false);
  });

  it('fails a zip whose entry declares 10 bytes and inflates to 50 MiB', async () => {
    const box = sandbox();
    const zip = await zipOf({ 'bomb.bin': Buffer.alloc(50 * 1024 * 1024) });
    zip.writeUInt32LE(10, 22); // local header: uncompressed size
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(10, central + 24); // central directory: uncompressed size
    writeFileSync(path.join(box.root, 'bomb.zip'), zip);
    expect(await codeOf(box.archiver.extract('/bomb.zip', '/'))).toMatch(/INVALID_PAYLOAD|DISK_LIMIT/);
    expect(existsSync(path.join(box.root, 'bomb.bin'))).toBe(false);
  });

  it('fails a truncated tar.gz cleanly', async () => {
    const box = sandbox();
    const tgz = gzipSync(await tarOf({ 'a.txt': Buffer.alloc(100_000, 'a'), 'b.txt': Buffer.from('b') }));
    writeFileSync(path.join(box.root, 'cut.tar.gz'), tgz.subarray(0, Math.floor(tgz.length / 2)));
    expect(await codeOf(box.archiver.extract('/cut.tar.gz', '/'))).toBe('INVALID_PAYLOAD');
  });

  it('refuses a tar.gz that inflates past the disk limit before writing anything', async () => {
    const box = sandbox({ limitBytes: 1024 * 1024 });
    const tgz = gzipSync(
      await tarOf({ 'a.bin': Buffer.alloc(8 * 1024 * 1024), 'b.bin': Buffer.alloc(8 * 1024 * 1024) }),
    );
    writeFileSync(path.join(box.root, 'big.tgz'), tgz);
    expect(await codeOf(box.archiver.extract('/big.tgz', '/'))).toBe('DISK_LIMIT');
    expect(existsSync(path.join(box.root, 'a.bin'))).toBe(false);
  });

  it.each(['zip', 'tar', 'tar.gz'] as const)(
    'extracts a %s into the server root and into a directory',
    async (format) => {
      const box = sandbox();
      const entries = { 'config/server.properties': Buffer.from('motd=hi\n'), 'readme.txt': Buffer.from('r') };
      const data = format === 'zip' ? await zipOf(entries) : await tarOf(entries);
      writeFileSync(path.join(box.root, `backup.${format}`), format === 'tar.gz' ? gzipSync(data) : data);
      const atRoot = await box.archiver.extract(`/backup.${format}`, '/');
      expect(atRoot.extractPath).toBe('/');
      expect(readFileSync(path.join(box.root, 'config', 'server.properties'), 'utf8')).toBe('motd=hi\n');
      await box.archiver.extract(`/backup.${format}`, '/restore/here');
      expect(readFileSync(path.join(box.root, 'restore', 'here', 'readme.txt'), 'utf8')).toBe('r');
    },
  );
});

describe('smaller findings', () => {
  it('describes the root as a directory, not a symlink, and archives it whole', async () => {
    const box = sandbox();
    writeFileSync(path.join(box.root, 'a.txt'), 'a');
    const info = await box.files.fileInfo('/');
    expect(info.type).toBe('directory');
    expect(info.symlink).toBeUndefined();
    const archive = await box.archiver.create(['/'], '/root.zip', 'zip');
    expect(archive.entries).toBe(1);
  });

  it('writes a 255-byte name made of 3-byte characters', async () => {
    const box = sandbox();
    const name = '€'.repeat(85);
    expect(Buffer.byteLength(name)).toBe(255);
    await box.files.write(`/${name}`, Buffer.from('euro'));
    expect((await box.files.read(`/${name}`)).bytes.toString()).toBe('euro');
  });

  it('calls a symlink loop an invalid path, not an internal error', async () => {
    const box = sandbox();
    symlinkSync('b', path.join(box.root, 'a'));
    symlinkSync('a', path.join(box.root, 'b'));
    expect(await codeOf(box.files.read('/a'))).toBe('INVALID_PATH');
  });

  it('enforces the disk limit on what a write carries, before writing', async () => {
    const box = sandbox({ limitBytes: 1000 });
    expect(await codeOf(box.files.write('/big.bin', Buffer.alloc(2000)))).toBe('DISK_LIMIT');
    expect(existsSync(path.join(box.root, 'big.bin'))).toBe(false);
  });
});
