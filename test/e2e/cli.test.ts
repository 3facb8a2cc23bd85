import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../dist/cli/bin.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cap-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', AGENT_DATA_DIR: dir, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ctrl-alt-play-agent CLI', () => {
  it('prints its version', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect((await cli(['version'])).stdout.trim()).toBe(version);
    expect((await cli(['--version'])).stdout.trim()).toBe(version);
  });

  it('config print shows the effective config with flags over env over file, secrets redacted', async () => {
    const file = path.join(dir, 'config.yml');
    await writeFile(file, 'port: 9001\nnodeId: from-file\nlogLevel: warn\n');
    const { code, stdout } = await cli(['config', 'print', '--config', file, '--port', '9003'], {
      AGENT_PORT: '9002',
      AGENT_TOKEN: 'super-secret-token-value',
      LOG_LEVEL: 'error',
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^port: 9003$/m);
    expect(stdout).toMatch(/^nodeId: from-file$/m);
    expect(stdout).toMatch(/^logLevel: error$/m);
    expect(stdout).toContain('[redacted]');
    expect(stdout).not.toContain('super-secret-token-value');
  });

  it('exits 2 naming the key for an invalid value', async () => {
    const env = await cli(['config', 'print'], { AGENT_PORT: 'abc' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/port/);
    const file = path.join(dir, 'bad.yml');
    await writeFile(file, 'port: 99999\n');
    const fromFile = await cli(['run', '--config', file]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/^\s+- port: /m);
  });

  it('doctor checks the host and exits 0 when all is well, 3 when not', async () => {
    const ok = await cli(['doctor', '--port', '0']);
    expect(ok.stdout).toMatch(/docker/);
    expect(ok.stdout).toMatch(/data-dir/);
    expect(ok.code).toBe(0);
    const bad = await cli(['doctor', '--port', '0', '--docker-host', `unix://${dir}/none.sock`]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/FAIL\s+docker/);
    expect(bad.stdout).toMatch(/fix: /);
  });

  it('manages aliases of known servers in the data directory', async () => {
    const { mkdir, writeFile: write, readFile } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'servers'), { recursive: true });
    await write(path.join(dir, 'servers', '9f3c0a4e5b6d7c8e9fa0b1c2d3e4f5a6.json'), '{}');
    expect((await cli(['alias', 'add', 'cm3y0q7rt0004', '9f3c0a4e5b6d7c8e9fa0b1c2d3e4f5a6'])).code).toBe(0);
    expect((await cli(['alias', 'ls'])).stdout).toBe('cm3y0q7rt0004\t9f3c0a4e5b6d7c8e9fa0b1c2d3e4f5a6\n');
    expect((await cli(['alias', 'add', 'x1', 'no-such-server'])).code).toBe(1);
    expect((await cli(['alias', 'add', '../x', '9f3c0a4e5b6d7c8e9fa0b1c2d3e4f5a6'])).code).toBe(1);
    expect((await cli(['alias', 'rm', 'cm3y0q7rt0004'])).code).toBe(0);
    expect(JSON.parse(await readFile(path.join(dir, 'aliases.json'), 'utf8'))).toEqual({});
  });
});
