import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { walkEntry } from './tree-walk.js';

/**
 * Allocated bytes under a server's directory, walked through the sandbox's walker: from a held handle, never
 * through a symlink, not even one the game swaps in for a directory mid-walk (a walk by path would then count
 * whatever the link points at: /usr once counted 987 MiB against a 200 KiB server). Hard links count once.
 * Past `maxEntries` the figure is a lower bound and `truncated` says so.
 */
export async function measureTree(root: string, maxEntries: number): Promise<{ bytes: number; truncated: boolean }> {
  let bytes = 0;
  const seenInodes = new Set<string>();
  const dir = await open(root, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const result = await walkEntry(
      dir.fd,
      '',
      [],
      {
        enter({ st, depth }) {
          if (depth === 0) return true;
          if (!st.isDirectory() && st.nlink > 1) {
            const inode = `${st.dev}:${st.ino}`;
            if (seenInodes.has(inode)) return false;
            seenInodes.add(inode);
          }
          // Allocated blocks, not apparent size: sparse files count for what they hold.
          bytes += st.blocks * 512;
          return true;
        },
      },
      // Depth is no risk to a walk that only counts: deep enough for anything a game builds, still bounded.
      { maxDepth: 1024, maxEntries, onLimit: 'stop' },
    );
    return { bytes, truncated: result.truncated };
  } finally {
    await dir.close();
  }
}
