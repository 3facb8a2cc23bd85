import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { prettyLine } from '../../src/log-pretty.js';
import { createLogger, openLogOutput } from '../../src/logging.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function sink() {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _e, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, stream };
}

describe('the root logger', () => {
  it('writes string levels and the node id on every line, children included; secrets redacted', () => {
    const { lines, stream } = sink();
    const log = createLogger('debug', stream, { nodeId: 'node-7' });
    log.info('one');
    log.child({ component: 'docker' }).warn({ token: 'abc', registry: { password: 'pw' } }, 'two');
    log.debug('three');
    expect(lines.map((l) => [l.level, l.nodeId, l.msg])).toEqual([
      ['info', 'node-7', 'one'],
      ['warn', 'node-7', 'two'],
      ['debug', 'node-7', 'three'],
    ]);
    expect(lines[1]).toMatchObject({ component: 'docker', token: '[redacted]', registry: { password: '[redacted]' } });
  });

  it('appends to log.file (directory created, 0640) and reopens it by name after a move (logrotate + SIGHUP)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cap-log-'));
    dirs.push(dir);
    const file = path.join(dir, 'nested', 'agent.log');
    const output = openLogOutput({ file, stdout: false, pretty: 'never', isTTY: false });
    const log = createLogger('info', output.stream, { nodeId: 'n' });
    log.info('before');
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('640');
    await rename(file, `${file}.1`);
    log.info('still to the moved file');
    output.reopen();
    log.info('after');
    output.flushSync();
    const msgs = async (f: string) =>
      (await readFile(f, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).msg);
    expect(await msgs(`${file}.1`)).toEqual(['before', 'still to the moved file']);
    expect(await msgs(file)).toEqual(['after']);
  });
});

describe('pretty lines (a TTY)', () => {
  const json = JSON.stringify({
    level: 'warn',
    time: '2026-12-01T21:40:02.123Z',
    app: 'ctrl-alt-play-agent',
    nodeId: 'n1',
    component: 'docker',
    serverId: 'abc',
    note: 'two words',
    msg: 'pull failed',
    err: { message: 'boom', stack: 'Error: boom\n    at x' },
  });

  it('reads as time, level, component, message and fields, the stack indented below', () => {
    expect(prettyLine(json, false)).toBe(
      '21:40:02.123 WARN  docker: pull failed serverId=abc note="two words"\n    Error: boom\n        at x\n',
    );
    expect(prettyLine(json, true)).toContain('\x1b[33mWARN \x1b[0m');
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(prettyLine('plain text', false)).toBe('plain text\n');
  });
});
