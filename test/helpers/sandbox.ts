import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Archiver } from '../../src/files/archives.js';
import { DenyList } from '../../src/files/deny-list.js';
import { IdNames } from '../../src/files/file-info.js';
import type { Quota } from '../../src/files/quota.js';
import { type FileLimits, ServerFiles } from '../../src/files/server-files.js';

/** A real sandbox on a temporary directory, for unit tests that need no Docker. */
export interface Sandbox {
  root: string;
  files: ServerFiles;
  archiver: Archiver;
  /** Bytes the quota hooks were told about (adjust) and the limit they enforce. */
  usage: { used: number; limit: number };
  cleanup(): void;
}

export const TEST_LIMITS: FileLimits = {
  readMaxBytes: 1024 * 1024,
  downloadMaxBytes: 4 * 1024 * 1024,
  listMaxEntries: 1000,
  searchMaxResults: 100,
  searchMaxDepth: 8,
  searchTimeMs: 5000,
  walkMaxDepth: 32,
  walkMaxEntries: 100_000,
};

export function makeSandbox(
  options: { deny?: string[]; limitBytes?: number; limits?: Partial<FileLimits> } = {},
): Sandbox {
  const root = mkdtempSync(path.join(tmpdir(), 'cap-sandbox-'));
  const usage = { used: 0, limit: options.limitBytes ?? Number.POSITIVE_INFINITY };
  const quota: Quota = {
    async reserve(delta) {
      if (delta > 0 && usage.used + delta > usage.limit) {
        const { AgentError } = await import('../../src/errors.js');
        throw new AgentError('DISK_LIMIT', `over the test limit of ${usage.limit} bytes`);
      }
    },
    async headroom() {
      return usage.limit - usage.used;
    },
    adjust(delta) {
      usage.used = Math.max(0, usage.used + delta);
    },
  };
  const files = new ServerFiles(
    root,
    { ...TEST_LIMITS, ...options.limits },
    new IdNames(),
    undefined,
    quota,
    new DenyList(options.deny ?? []),
  );
  return {
    root,
    files,
    archiver: new Archiver(files, undefined),
    usage,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
