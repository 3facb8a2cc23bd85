import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DATA_DIR_FORMAT, ensureDataDirFormat, readDataDirFormat } from '../../../src/config/data-format.js';
import { migrateRecord, RECORD_VERSION, ServerStore } from '../../../src/servers/store.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cap-store-'));
  dirs.push(dir);
  return dir;
}

function capture() {
  const lines: Record<string, any>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _e, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  return { log, lines };
}

const record = (id: string, version: number) => ({
  version,
  spec: { id, name: id },
  state: 'offline',
  reason: undefined,
  pending: undefined,
  lastExit: undefined,
  suspended: false,
});

describe('server record versions', () => {
  it('refuses a record from a newer agent with a clear message, keeps the file untouched, loads the rest', async () => {
    const dir = await dataDir();
    const { log, lines } = capture();
    const store = new ServerStore(dir, log);
    const servers = path.join(dir, 'servers');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(servers);
    const newer = `${JSON.stringify(record('newer1', RECORD_VERSION + 1))}\n`;
    await writeFile(path.join(servers, 'newer1.json'), newer);
    await writeFile(path.join(servers, 'current.json'), JSON.stringify(record('current', RECORD_VERSION)));

    const loaded = await store.loadAll();
    expect(loaded.map((r) => r.spec.id)).toEqual(['current']);
    expect((await readdir(servers)).sort()).toEqual(['current.json', 'newer1.json']);
    expect(await readFile(path.join(servers, 'newer1.json'), 'utf8')).toBe(newer);
    const line = lines.find((l) => l.file?.endsWith('newer1.json'));
    expect(line).toMatchObject({ level: 50, version: RECORD_VERSION + 1, supported: RECORD_VERSION });
    expect(line?.msg).toMatch(/newer agent.*not loaded.*kept/);
    // Nothing this agent does may overwrite it, not even a create that reuses the id.
    await expect(store.save(record('newer1', RECORD_VERSION) as never)).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    expect(await readFile(path.join(servers, 'newer1.json'), 'utf8')).toBe(newer);
  });

  it('still moves a file that is no record at all aside as .corrupt', async () => {
    const dir = await dataDir();
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'servers'));
    await writeFile(path.join(dir, 'servers', 'junk.json'), '{"hello": 1}');
    expect(await new ServerStore(dir, capture().log).loadAll()).toEqual([]);
    expect(await readdir(path.join(dir, 'servers'))).toEqual(['junk.json.corrupt']);
  });

  it('migrates an older record step by step through the table', () => {
    const migrations = {
      1: (r: Record<string, unknown>) => ({ ...r, spec: { ...(r.spec as object), added: 'by v2' } }),
      2: (r: Record<string, unknown>) => ({ ...r, renamed: r.state, state: undefined }),
    };
    const verdict = migrateRecord(record('old', 1), 3, migrations);
    expect(verdict).toMatchObject({
      kind: 'current',
      migrated: true,
      record: { version: 3, spec: { id: 'old', added: 'by v2' }, renamed: 'offline' },
    });
    expect(migrateRecord(record('cur', 3), 3, migrations)).toMatchObject({ kind: 'current', migrated: false });
    expect(migrateRecord(record('new', 4), 3, migrations)).toEqual({ kind: 'newer', version: 4 });
    expect(migrateRecord(record('gap', 1), 3, { 2: migrations[2] })).toMatchObject({ kind: 'corrupt' });
    expect(migrateRecord({ spec: { id: 'x' } })).toMatchObject({ kind: 'corrupt', reason: 'no record version' });
  });
});

describe('data directory format', () => {
  it('stamps a fresh directory, refuses a newer one, migrates an older one', async () => {
    const { log } = capture();
    const fresh = await dataDir();
    await ensureDataDirFormat(fresh, log);
    expect(await readDataDirFormat(fresh)).toBe(DATA_DIR_FORMAT);

    const newer = await dataDir();
    await writeFile(path.join(newer, 'format'), `${DATA_DIR_FORMAT + 1}\n`);
    await expect(ensureDataDirFormat(newer, log)).rejects.toThrow(/newer agent.*restore the backup/);
    expect(await readFile(path.join(newer, 'format'), 'utf8')).toBe(`${DATA_DIR_FORMAT + 1}\n`);

    const older = await dataDir();
    await writeFile(path.join(older, 'format'), '1\n');
    const steps: number[] = [];
    await ensureDataDirFormat(older, log, 3, {
      1: async () => void steps.push(1),
      2: async () => void steps.push(2),
    });
    expect(steps).toEqual([1, 2]);
    expect(await readDataDirFormat(older)).toBe(3);
  });
});
