// What each guarantee of the agent's streamed upload costs, measured on the sandbox itself (dist/files), in the
// same process and on the same disk, by building ServerFiles with and without each one: the denylist, the quota
// (the disk-use figure behind the server's limit), ownership (fchown to the game's user), and the atomic replace
// (temporary file + rename, against writing the target in place). These are per-request costs: while the bytes
// flow, the quota is one comparison per 64 KiB read (write-body.ts) and nothing else runs per byte.
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DenyList } from '../../dist/files/deny-list.js';
import { measureTree } from '../../dist/files/disk-measure.js';
import { IdNames } from '../../dist/files/file-info.js';
import { ServerFiles } from '../../dist/files/server-files.js';
import { DiskUsageTracker } from '../../dist/servers/disk-usage.js';

const LIMITS = {
  readMaxBytes: 1 << 20,
  downloadMaxBytes: 1 << 30,
  listMaxEntries: 10_000,
  searchMaxResults: 100,
  searchMaxDepth: 8,
  searchTimeMs: 1000,
  walkMaxDepth: 128,
  walkMaxEntries: 1_000_000,
};
// An egg-sized denylist: what a Minecraft or Rust egg declares.
const PATTERNS = ['*.jar', '.env', 'server.properties', 'ops.json', 'whitelist.json', 'banned-*.json', 'config/**'];
const CALLS = 100;
const ROUNDS = 7;
const MIB = 1024 * 1024;

const noQuota = { headroom: async () => Number.POSITIVE_INFINITY, reserve: async () => {}, adjust: () => {} };

/** The quota as FileAccess builds it (servers/file-access.ts): the cached disk figure against the limit. */
function trackedQuota(tracker, root, limitBytes) {
  return {
    headroom: async () => limitBytes - (await tracker.usedBytes(root, root)),
    reserve: async (delta) => {
      if (delta > 0 && (await tracker.usedBytes(root, root)) + delta > limitBytes) throw new Error('DISK_LIMIT');
    },
    adjust: (delta) => tracker.adjust(root, delta),
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function perCallUs(fn) {
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await fn(i);
  return ((performance.now() - t0) * 1000) / CALLS;
}

export async function guaranteeCosts(record, { sizeMib, uploadMs }) {
  const base = await mkdtemp(path.join(tmpdir(), 'cap-bench-guarantees-'));
  try {
    const root = path.join(base, 'server');
    await mkdir(path.join(root, 'world'), { recursive: true });
    // A server directory of 1,000 files for the disk figure's walk.
    for (let i = 0; i < 1000; i++) await writeFile(path.join(root, 'world', `r.${i}.mca`), 'x');
    const tracker = new DiskUsageTracker({ measure: measureTree });
    const walkMs = await (async () => {
      const t0 = performance.now();
      await tracker.refresh(root, root);
      return performance.now() - t0;
    })();
    const owner = process.getuid?.() === 0 ? { uid: 988, gid: 988 } : undefined;
    const names = new IdNames();
    const sandbox = (opts) =>
      new ServerFiles(
        root,
        LIMITS,
        names,
        opts.owner ? owner : undefined,
        opts.quota ? trackedQuota(tracker, root, 64 * 1024 * MIB) : noQuota,
        new DenyList(opts.deny ? PATTERNS : []),
      );
    const fill = async () => 0;
    const target = path.join(root, 'world', 'upload.bin');
    const quota = trackedQuota(tracker, root, 64 * 1024 * MIB);
    const deny = new DenyList(PATTERNS);
    const handle = await open(path.join(root, 'world', 'owned.bin'), 'w');
    const full = sandbox({ deny: true, quota: true, owner: true });
    // Each guarantee's own work, timed on its own (differences of whole writes drown in this machine's noise):
    const ops = {
      // Plain fs, no sandbox: the target opened in place, and the temporary file + rename of the atomic replace.
      inPlace: async () => (await open(target, 'w')).close(),
      tempAndRename: async (i) => {
        const tmp = path.join(root, 'world', `.upload.bin.${i}.tmp`);
        await (await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)).close();
        await rename(tmp, target);
      },
      denylist: async () => deny.deniedBy(['world', 'upload.bin']),
      quota: async () => {
        await quota.headroom();
        await quota.reserve(4096);
      },
      ownership: async () => {
        await handle.chmod(0o644);
        if (owner) await handle.chown(owner.uid, owner.gid);
      },
      // The whole sandboxed writer with every guarantee, for an empty body: an upload's fixed cost.
      writeAtomic: () => full.writeAtomic('/world/upload.bin', 'path', fill, { fsync: false }),
    };
    const samples = Object.fromEntries(Object.keys(ops).map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, op] of Object.entries(ops)) samples[name].push(await perCallUs(op));
    }
    await handle.close();
    const us = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
    const share = (micros) => (micros / 1000 / uploadMs) * 100;
    const cost = (name, micros) => {
      record({ name: `guarantee cost: ${name} (per upload)`, value: micros, unit: 'us' });
      record({ name: `guarantee cost: ${name}, share of a ${sizeMib} MiB upload`, value: share(micros), unit: '%' });
    };
    record({ name: 'empty write, plain open(O_TRUNC) + close (no sandbox)', value: us.inPlace, unit: 'us' });
    record({ name: 'empty write, sandbox writeAtomic with every guarantee', value: us.writeAtomic, unit: 'us' });
    cost('atomic replace (temp file + rename vs in place)', Math.max(0, us.tempAndRename - us.inPlace));
    cost('denylist (7 egg patterns, on the resolved path)', us.denylist);
    cost('quota (headroom + reserve on the cached disk figure)', us.quota);
    cost(owner ? 'ownership (fchmod + fchown to the game user)' : 'mode (fchmod; fchown needs root)', us.ownership);
    record({
      name: 'quota: first disk walk of a 1,000-file server (once a minute, background)',
      value: walkMs,
      unit: 'ms',
    });

    // Durability, which neither gofs nor the agent buys (no fsync before the rename): what it would cost.
    const data = Buffer.alloc(sizeMib * MIB, 1);
    const big = path.join(base, 'durable.bin');
    const durable = await open(big, 'w');
    await durable.writeFile(data);
    const t0 = performance.now();
    await durable.sync();
    const fsyncMs = performance.now() - t0;
    await durable.close();
    record({
      name: `fsync of a freshly written ${sizeMib} MiB file (not paid by any side)`,
      value: fsyncMs,
      unit: 'ms',
    });
    record({ name: 'fsync, share of the upload it would follow', value: (fsyncMs / uploadMs) * 100, unit: '%' });
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
