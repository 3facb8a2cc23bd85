import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../../src/cli/node-flags.js';

const read = (file: string) => readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
const V8_FLAG = /--(max-semi-space-size|no-maglev|invocation-count|optimize-for-size)/;

// The flags live in one place, the launcher (bin.ts), which adds them after its Node version check; every other
// way in must go through the launcher without them, or an old Node dies with `bad option` before the check.
// That the launcher really adds them to the agent's process: test/e2e/release-artifact.test.ts (/proc/pid/cmdline).
describe('V8 flags of every launch', () => {
  it('come from the launcher only: the shebang, npm start, the systemd unit and the image start it without them', () => {
    const bin = read('src/cli/bin.ts');
    expect(bin.split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(bin).toMatch(/^import \{ (\w+, )*NODE_FLAGS(, \w+)* \} from '\.\/node-flags\.js';$/m);

    expect(JSON.parse(read('package.json')).scripts.start).toBe('node dist/cli/bin.js run');

    const execStart = read('deploy/ctrl-alt-play-agent.service')
      .split('\n')
      .filter((line) => line.startsWith('ExecStart='));
    expect(execStart).toHaveLength(1);
    // An absolute node, not whatever `env` finds on systemd's PATH.
    expect(execStart[0]).toMatch(/^ExecStart=\/\S+\/node \/\S+\/dist\/cli\/bin\.js run$/);

    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/\S+\/dist\/cli\/bin\.js"\]$/m);

    const launches: [string, string][] = [
      ['unit', execStart[0]!],
      ['image', dockerfile.split('\n').find((l) => l.startsWith('ENTRYPOINT'))!],
      ['npm start', JSON.parse(read('package.json')).scripts.start as string],
      ['shebang', bin.split('\n')[0]!],
    ];
    for (const [where, text] of launches) {
      expect(V8_FLAG.test(text), `${where} must not carry V8 flags: ${text}`).toBe(false);
    }
  });

  it('are flags this Node accepts', () => {
    expect(
      execFileSync(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' }),
    ).toBe('ok');
  });
});
