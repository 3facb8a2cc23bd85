import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * deploy/ctrl-alt-play-agent.service checked by systemd's own tools (Debian's `systemd` package; .ci/run installs
 * it when systemd-analyze is missing). Both work offline on a unit file, without a running systemd.
 */
const run = promisify(execFile);
const UNIT = path.resolve(import.meta.dirname, '../../deploy/ctrl-alt-play-agent.service');
const MAX_EXPOSURE = 3.0;
let dir: string;
let unit: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cap-unit-'));
  unit = await readFile(UNIT, 'utf8');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function analyze(args: string[]) {
  return run('systemd-analyze', args, { env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', SYSTEMD_LOG_COLOR: '0' } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number | string; stdout: string; stderr: string }) => {
      if (err.code === 'ENOENT') throw new Error('systemd-analyze is missing: apt-get install systemd (.ci/run does)');
      return err;
    },
  );
}

describe('the systemd unit', () => {
  it('passes systemd-analyze verify without a warning', async () => {
    // verify checks that ExecStart's program exists; the unit names the usual /usr/bin/node, which a build
    // machine may not have, so the copy names the node running this test (the rest of the line is unchanged).
    const copy = path.join(dir, 'ctrl-alt-play-agent.service');
    await writeFile(copy, unit.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
    const { code, stdout, stderr } = await analyze(['verify', copy]);
    // Unknown keys and values that do not parse are only warnings (exit code 0): any line fails the test.
    expect({ code, output: `${stdout}${stderr}`.trim() }).toEqual({ code: 0, output: '' });
  });

  it(`is hardened to an exposure of at most ${MAX_EXPOSURE} (systemd-analyze security --offline=yes)`, async () => {
    const { stdout, stderr } = await analyze(['security', '--offline=yes', '--no-pager', UNIT]);
    const overall = `${stdout}${stderr}`.match(/Overall exposure level for \S+: (\d+\.\d+)/);
    expect(overall, `${stdout}${stderr}`).not.toBeNull();
    const exposure = Number(overall![1]);
    expect(exposure, `exposure ${exposure}; the options still exposed:\n${stdout}`).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it('starts on a fresh host and rides Docker restarts', () => {
    const lines = unit.split('\n').map((l) => l.trim());
    // systemd creates the data directory; a ReadWritePaths= entry that does not exist fails namespace setup
    // unless it carries the `-` prefix.
    expect(lines).toContain('StateDirectory=ctrl-alt-play-agent');
    for (const line of lines.filter((l) => l.startsWith('ReadWritePaths='))) {
      expect(
        line
          .slice('ReadWritePaths='.length)
          .split(/\s+/)
          .every((p) => p.startsWith('-')),
      ).toBe(true);
    }
    // Requires= would stop and restart the agent with every Docker restart, which it is built to ride.
    expect(lines.filter((l) => /^(Requires|BindsTo|PartOf)=.*docker/.test(l))).toEqual([]);
    expect(lines).toContain('Wants=network-online.target docker.service');
    expect(lines.filter((l) => l.startsWith('KillMode='))).toEqual([]);
    expect(lines.find((l) => l.startsWith('ExecStart='))).not.toMatch(/\/env\b/);
  });
});
