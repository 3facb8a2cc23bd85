import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { measureTree } from '../../../src/files/disk-measure.js';
import { DiskUsageTracker } from '../../../src/servers/disk-usage.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tree(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'cap-disk-'));
  dirs.push(root);
  await mkdir(path.join(root, 'world/region'), { recursive: true });
  await writeFile(path.join(root, 'world/region/r.0.0.mca'), Buffer.alloc(256 * 1024, 1));
  await writeFile(path.join(root, 'server.jar'), Buffer.alloc(128 * 1024, 2));
  return root;
}

describe('DiskUsageTracker', () => {
  it('counts allocated bytes, hard links once, and never follows symlinks out', async () => {
    const root = await tree();
    await link(path.join(root, 'server.jar'), path.join(root, 'server-copy.jar'));
    await symlink('/usr', path.join(root, 'escape'));
    const tracker = new DiskUsageTracker({ measure: measureTree });
    const bytes = await tracker.usedBytes('s1', root);
    expect(bytes).toBeGreaterThanOrEqual(384 * 1024);
    expect(bytes).toBeLessThan(600 * 1024);
  });

  it('serves the cached figure, adjusts it for writes, and refreshes when stale', async () => {
    const root = await tree();
    let now = 0;
    const tracker = new DiskUsageTracker({ measure: measureTree, maxAgeMs: 1000, now: () => now });
    const first = await tracker.usedBytes('s1', root);
    await writeFile(path.join(root, 'big.bin'), Buffer.alloc(1024 * 1024, 3));
    expect(await tracker.usedBytes('s1', root)).toBe(first); // cached
    tracker.adjust('s1', 1024 * 1024);
    expect(tracker.peek('s1')?.bytes).toBe(first + 1024 * 1024);
    now = 5000;
    await tracker.usedBytes('s1', root); // triggers a background refresh
    const refreshed = await tracker.refresh('s1', root);
    expect(refreshed.bytes).toBeGreaterThanOrEqual(first + 1024 * 1024);
  });

  it('stops at maxEntries and says the figure is truncated', async () => {
    const root = await tree();
    for (let i = 0; i < 50; i++) await writeFile(path.join(root, `f${i}`), 'x');
    const figure = await new DiskUsageTracker({ measure: measureTree, maxEntries: 10 }).refresh('s1', root);
    expect(figure.truncated).toBe(true);
  });
});
