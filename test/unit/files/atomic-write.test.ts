import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { replaceViaTemp } from '../../../src/files/atomic-write.js';
import { makeSandbox, type Sandbox } from '../../helpers/sandbox.js';

/**
 * replaceViaTemp is the temp-then-rename step under write_file, uploads, archive creation and every extracted
 * entry: whatever fails, the target stays as it was and no temporary file is left beside it.
 */

let box: Sandbox;
afterEach(() => box.cleanup());

async function replace(name: string, fill: Parameters<typeof replaceViaTemp>[1]) {
  const loc = await box.files.jail.locateForCreate(name, 'path', box.files.mkdirAt);
  try {
    return await replaceViaTemp(loc, fill);
  } finally {
    await loc.close();
  }
}

describe('replaceViaTemp', () => {
  it('renames the filled file over the target and returns what fill returned', async () => {
    box = makeSandbox();
    writeFileSync(path.join(box.root, 'a.txt'), 'old');
    const result = await replace('a.txt', async (handle) => {
      await handle.writeFile('new');
      return 42;
    });
    expect(result).toBe(42);
    expect(readFileSync(path.join(box.root, 'a.txt'), 'utf8')).toBe('new');
    expect(readdirSync(box.root)).toEqual(['a.txt']);
  });

  it('leaves the target and removes the temporary file when fill fails, even after closing the handle', async () => {
    box = makeSandbox();
    writeFileSync(path.join(box.root, 'a.txt'), 'old');
    const failure = replace('a.txt', async (handle) => {
      await handle.writeFile('partial');
      await handle.close();
      throw new Error('fill failed');
    });
    await expect(failure).rejects.toThrow('fill failed');
    expect(readFileSync(path.join(box.root, 'a.txt'), 'utf8')).toBe('old');
    expect(readdirSync(box.root)).toEqual(['a.txt']);
  });

  it('removes the temporary file when the rename fails (a directory took the name meanwhile)', async () => {
    box = makeSandbox();
    const failure = replace('taken', async (handle) => {
      await handle.writeFile('data');
      mkdirSync(path.join(box.root, 'taken', 'inside'), { recursive: true });
    });
    await expect(failure).rejects.toMatchObject({ code: 'EISDIR' });
    expect(readdirSync(box.root)).toEqual(['taken']);
    expect(readdirSync(path.join(box.root, 'taken'))).toEqual(['inside']);
  });
});
