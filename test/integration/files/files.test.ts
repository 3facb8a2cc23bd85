import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitForStatus } from '../../helpers/agent.js';
import { TEST_IMAGE } from '../../helpers/constants.js';

let agent: TestAgent;
let id: string;
let root: string;

beforeAll(async () => {
  agent = await startTestAgent({ files: { denylist: ['secret/**'] } });
  id = uuid();
  await agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: TEST_IMAGE, startup: 'sleep 1000', limits: { disk: 5 }, denylist: ['**/*.so'] },
  });
  await waitForStatus(agent, id, 'offline');
  await agent.command({ action: 'add_alias', serverId: id, payload: { alias: 'cm3y0q7rt0004' } });
  root = path.join(agent.dataDir, 'volumes', id);
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

const cmd = (action: string, payload: Record<string, unknown>) =>
  agent.command({ action, serverId: 'cm3y0q7rt0004', payload });

describe('file actions with the panel’s shapes', () => {
  it('writes, reads, lists and describes files', async () => {
    const w = await cmd('write_file', { path: '//config/server.properties', content: 'motd=hi\n' });
    expect(w).toMatchObject({ success: true, data: { path: '/config/server.properties', size: 8 } });
    expect(new Date(w.data.modified).toISOString()).toBe(w.data.modified);
    const r = await cmd('read_file', { path: 'config/server.properties' });
    expect(r.data).toMatchObject({ content: 'motd=hi\n', size: 8, path: '/config/server.properties' });
    await cmd('create_directory', { path: '/world/region' });
    const list = await cmd('list_files', { path: '/' });
    expect(list.data.files.map((f: { name: string }) => f.name).slice(0, 2)).toEqual(['config', 'world']);
    const config = list.data.files[0];
    expect(config).toMatchObject({ type: 'directory', size: 0, path: '/config' });
    expect(config.modified).toBe(config.lastModified);
    const info = await cmd('get_file_info', { path: '/config/server.properties' });
    expect(info.data).toMatchObject({
      name: 'server.properties',
      type: 'file',
      permissions: '644',
      extension: 'properties',
    });
    expect(typeof info.data.owner).toBe('string');
    const perms = await cmd('get_file_permissions', { path: '/config/server.properties' });
    expect(Object.keys(perms.data).sort()).toEqual(['group', 'owner', 'path', 'permissions']);
  });

  it('uploads base64 strictly, stores utf8 otherwise, and downloads base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    const up = await cmd('upload_file', {
      path: '//plugins/a.jar',
      content: bytes.toString('base64'),
      encoding: 'base64',
    });
    expect(up).toMatchObject({ success: true, data: { path: '/plugins/a.jar', size: 5 } });
    expect(await readFile(path.join(root, 'plugins/a.jar'))).toEqual(bytes);
    const text = await cmd('upload_file', { path: 'notes.txt', content: 'AAEC' });
    expect(text.data.size).toBe(4); // no encoding: stored as text, base64 never assumed
    expect((await cmd('upload_file', { path: 'x.bin', content: 'not base64!', encoding: 'base64' })).code).toBe(
      'INVALID_PAYLOAD',
    );
    const down = await cmd('download_file', { path: '/plugins/a.jar' });
    expect(down.data).toMatchObject({ encoding: 'base64', content: bytes.toString('base64'), size: 5 });
    await cmd('write_file', { path: 'empty.txt', content: '' });
    expect((await cmd('download_file', { path: 'empty.txt' })).data.content).toBe('');
  });

  it('renames, moves, copies and deletes with the documented errors', async () => {
    await cmd('write_file', { path: 'a.txt', content: 'A' });
    await cmd('write_file', { path: 'b.txt', content: 'B' });
    expect((await cmd('rename_file', { oldPath: 'a.txt', newPath: 'b.txt' })).code).toBe('ALREADY_EXISTS');
    expect((await cmd('rename_file', { oldPath: '/a.txt', newPath: '/moved/a.txt' })).data).toEqual({
      oldPath: '/a.txt',
      newPath: '/moved/a.txt',
    });
    expect((await cmd('move_file', { sourcePath: '/moved', destinationPath: '//' + 'moved2' })).success).toBe(true);
    const copy = await cmd('copy_file', { sourcePath: '/moved2', destinationPath: '/copied' });
    expect(copy).toMatchObject({ success: true, data: { sourcePath: '/moved2', destinationPath: '/copied' } });
    expect((await cmd('read_file', { path: '/copied/a.txt' })).data.content).toBe('A');
    expect((await cmd('delete_file', { path: '/copied' })).data.path).toBe('/copied');
    expect((await cmd('delete_file', { path: '/copied' })).code).toBe('FILE_NOT_FOUND');
    expect((await cmd('delete_file', { path: '/' })).code).toBe('INVALID_PATH');
    expect((await cmd('read_file', { path: '/moved2' })).code).toBe('IS_A_DIRECTORY');
    expect((await cmd('create_directory', { path: '/b.txt' })).code).toBe('ALREADY_EXISTS');
  });

  it('changes permissions from mode or permissions, never with setuid', async () => {
    await cmd('write_file', { path: 'run.sh', content: '#!/bin/sh\n' });
    expect((await cmd('set_file_permissions', { path: 'run.sh', mode: '755' })).data).toEqual({
      path: '/run.sh',
      permissions: '755',
    });
    expect((await cmd('set_file_permissions', { path: 'run.sh', permissions: 700 })).data.permissions).toBe('700');
    expect((await cmd('set_file_permissions', { path: 'run.sh', mode: '4755' })).code).toBe('INVALID_PAYLOAD');
    expect((await cmd('set_file_permissions', { path: '/', mode: '777' })).code).toBe('INVALID_PATH');
  });

  it('searches names case-insensitively with a type filter', async () => {
    await cmd('write_file', { path: 'deep/a/b/Level.dat', content: 'x' });
    const r = await cmd('search_files', { path: '/', query: 'level', fileType: 'file' });
    expect(r.data).toMatchObject({ query: 'level', truncated: false });
    expect(r.data.files.map((f: { path: string }) => f.path)).toEqual(['/deep/a/b/Level.dat']);
    expect(r.data.total).toBe(1);
  });

  it('enforces the disk limit and the denylist', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 1).toString('base64');
    expect((await cmd('upload_file', { path: 'big.bin', content: big, encoding: 'base64' })).code).toBe('DISK_LIMIT');
    expect((await cmd('write_file', { path: '/secret/key', content: 'x' })).code).toBe('PERMISSION_DENIED');
    // The server's own pattern from create_server.
    expect((await cmd('write_file', { path: '/lib/native.so', content: 'x' })).code).toBe('PERMISSION_DENIED');
    expect((await cmd('write_file', { path: '/lib/native.txt', content: 'x' })).success).toBe(true);
  });
});

describe('the jail', () => {
  it('refuses paths and symlinks that leave the server directory', async () => {
    await symlink('/etc', path.join(root, 'etc-link'));
    await symlink('/etc/passwd', path.join(root, 'passwd-link'));
    await mkdir(path.join(root, 'inside'), { recursive: true });
    await writeFile(path.join(root, 'inside/ok.txt'), 'fine');
    await symlink('inside', path.join(root, 'inside-link'));
    expect((await cmd('read_file', { path: '../../etc/passwd' })).code).toBe('PATH_OUTSIDE_ROOT');
    expect((await cmd('read_file', { path: 'passwd-link' })).code).toBe('PATH_OUTSIDE_ROOT');
    expect((await cmd('read_file', { path: 'etc-link/passwd' })).code).toBe('PATH_OUTSIDE_ROOT');
    expect((await cmd('list_files', { path: 'etc-link' })).code).toBe('PATH_OUTSIDE_ROOT');
    expect((await cmd('write_file', { path: 'etc-link/evil', content: 'x' })).code).toBe('PATH_OUTSIDE_ROOT');
    expect((await cmd('set_file_permissions', { path: 'passwd-link', mode: '777' })).code).toBe('INVALID_PATH');
    expect((await cmd('read_file', { path: 'inside-link/ok.txt' })).data.content).toBe('fine');
    const list = await cmd('list_files', { path: '/' });
    const outside = list.data.files.find((f: { name: string }) => f.name === 'etc-link');
    expect(outside).toMatchObject({ symlink: true, broken: true, type: 'file' });
    const inside = list.data.files.find((f: { name: string }) => f.name === 'inside-link');
    expect(inside).toMatchObject({ symlink: true, type: 'directory' });
    // Deleting a link removes the link, never its target.
    expect((await cmd('delete_file', { path: 'etc-link' })).success).toBe(true);
    expect((await readFile('/etc/hostname', 'utf8')).length).toBeGreaterThan(0);
  });
});

describe('archives', () => {
  /** yazl refuses hostile names, so they are written as same-length safe names and patched in afterwards. */
  async function zipOf(entries: [string, Buffer][]): Promise<Buffer> {
    const zip = new yazl.ZipFile();
    const patches: [string, string][] = [];
    for (const [name, data] of entries) {
      const safe = name.replace(/\.\./g, 'zz').replace(/^\//, 'q');
      if (safe !== name) patches.push([safe, name]);
      zip.addBuffer(data, safe);
    }
    zip.end();
    const chunks: Buffer[] = [];
    let out = await new Promise<Buffer>((resolve) => {
      zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
      zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    });
    for (const [safe, hostile] of patches) {
      out = Buffer.from(out.toString('latin1').split(safe).join(hostile), 'latin1');
    }
    return out;
  }

  it('creates and extracts zip, tar and tar.gz round trips', async () => {
    await cmd('write_file', { path: 'pack/one.txt', content: 'one' });
    await cmd('write_file', { path: 'pack/sub/two.txt', content: 'two' });
    for (const archivePath of ['/out.zip', '/out.tar', '/out.tar.gz']) {
      const made = await cmd('create_archive', { files: ['/pack'], archivePath });
      expect(made).toMatchObject({ success: true, data: { archivePath, entries: 4 } });
      expect(made.data.size).toBeGreaterThan(0);
      expect((await cmd('create_archive', { files: ['/pack'], archivePath })).code).toBe('ALREADY_EXISTS');
      const target = `/unpacked${archivePath.replace(/\W/g, '_')}`;
      const out = await cmd('extract_archive', { archivePath, extractPath: target });
      expect(out).toMatchObject({ success: true, data: { extractPath: target, skipped: 0 } });
      expect((await cmd('read_file', { path: `${target}/pack/sub/two.txt` })).data.content).toBe('two');
    }
  });

  it('skips entries that escape and refuses an archive bigger than the disk quota before writing', async () => {
    const evil = await zipOf([
      ['../../escaped.txt', Buffer.from('x')],
      ['/abs/ok.txt', Buffer.from('ok')],
      ['good.txt', Buffer.from('good')],
    ]);
    await cmd('upload_file', { path: 'evil.zip', content: evil.toString('base64'), encoding: 'base64' });
    const r = await cmd('extract_archive', { archivePath: 'evil.zip', extractPath: '/x' });
    expect(r).toMatchObject({ success: true, data: { skipped: 1, entries: 2 } });
    expect((await cmd('read_file', { path: '/x/abs/ok.txt' })).data.content).toBe('ok');
    const bomb = await zipOf([['zeros.bin', Buffer.alloc(20 * 1024 * 1024)]]);
    expect(bomb.length).toBeLessThan(100 * 1024);
    await cmd('upload_file', { path: 'bomb.zip', content: bomb.toString('base64'), encoding: 'base64' });
    const refused = await cmd('extract_archive', { archivePath: 'bomb.zip', extractPath: '/bomb' });
    expect(refused.code).toBe('DISK_LIMIT');
    expect((await cmd('list_files', { path: '/bomb' })).code).toBe('FILE_NOT_FOUND');
  });
});
