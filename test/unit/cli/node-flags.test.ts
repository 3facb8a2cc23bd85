import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../../src/cli/node-flags.js';

const read = (file: string) => readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
const flags = NODE_FLAGS.join(' ');

describe('V8 flags of every launch', () => {
  it('are the same in the shebang, npm start, the systemd unit and the image', () => {
    expect(read('src/cli/bin.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
    expect(JSON.parse(read('package.json')).scripts.start).toBe(`node ${flags} dist/cli/bin.js run`);
    expect(read('deploy/ctrl-alt-play-agent.service')).toContain(`ExecStart=/usr/bin/env node ${flags} `);
    expect(read('Dockerfile')).toContain(`ENTRYPOINT ["node", ${NODE_FLAGS.map((f) => `"${f}"`).join(', ')}, `);
  });

  it('are flags this Node accepts', () => {
    expect(
      execFileSync(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' }),
    ).toBe('ok');
  });
});
