import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { applyConfigFiles } from '../../../../src/files/config-files/apply-config-files.js';
import type { ConfigFileRule } from '../../../../src/files/config-files/rules.js';
import { type TemplateContext, templateResolver } from '../../../../src/files/config-files/template-resolver.js';
import { makeSandbox, type Sandbox } from '../../../helpers/sandbox.js';

const ctx: TemplateContext = {
  port: 25565,
  ip: '0.0.0.0',
  memoryMb: 1024,
  environment: { SERVER_PORT: '25565', MOTD: 'hello', TOKEN_LIKE: 'x' },
  gateway: '172.18.0.1',
};

describe('template resolver', () => {
  it('resolves the server build facts, the environment and the game network gateway', () => {
    const warnings: string[] = [];
    const resolve = templateResolver(ctx, (m) => warnings.push(m));
    expect(resolve('{{server.build.default.port}}')).toBe('25565');
    expect(resolve('{{ server.build.default.ip }}:{{server.build.default.port}}')).toBe('0.0.0.0:25565');
    expect(resolve('{{server.build.memory}}M')).toBe('1024M');
    expect(resolve('{{server.build.env.MOTD}} / {{env.MOTD}}')).toBe('hello / hello');
    expect(resolve('{{config.docker.interface}}:25577')).toBe('172.18.0.1:25577');
    expect(resolve(25565)).toBe(25565);
    expect(resolve(true)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('never resolves any other {{config.*}}: the agent’s token and settings stay out of reach', () => {
    const warnings: string[] = [];
    const resolve = templateResolver(ctx, (m) => warnings.push(m));
    for (const probe of [
      'config.token',
      'config.api.key',
      'config.panel.apiToken',
      'config.dataDir',
      'config.docker',
    ]) {
      expect(resolve(`x{{${probe}}}y`)).toBe(`x{{${probe}}}y`);
    }
    expect(resolve('{{env.NOPE}}')).toBe('{{env.NOPE}}');
    expect(resolve('{{env.__proto__}}')).toBe('{{env.__proto__}}');
    expect(warnings).toHaveLength(7);
    expect(warnings[0]).toContain('config.token');
  });

  it('leaves the gateway template as written when the network has none', () => {
    const warnings: string[] = [];
    const resolve = templateResolver({ ...ctx, gateway: undefined }, (m) => warnings.push(m));
    expect(resolve('{{config.docker.interface}}')).toBe('{{config.docker.interface}}');
    expect(warnings).toHaveLength(1);
  });
});

describe('applyConfigFiles on a real sandbox', () => {
  let box: Sandbox;
  const outside = mkdtempSync(path.join(tmpdir(), 'cap-outside-'));
  afterEach(() => box?.cleanup());
  afterAll(() => rmSync(outside, { recursive: true, force: true }));
  const limits = { maxFiles: 32, maxBytes: 64 * 1024 };

  it('rewrites existing files, creates missing ones, skips what the sandbox refuses, and the rest goes on', async () => {
    box = makeSandbox({ deny: ['secret.yml'] });
    writeFileSync(path.join(box.root, 'server.properties'), '# keep\nserver-port=1\n');
    writeFileSync(path.join(outside, 'victim.json'), '{"a":1}\n');
    symlinkSync(path.join(outside, 'victim.json'), path.join(box.root, 'link.json'));
    writeFileSync(path.join(box.root, 'secret.yml'), 'a: 1\n');
    writeFileSync(path.join(box.root, 'broken.json'), '{ not json');
    execFileSync('mkfifo', [path.join(box.root, 'fifo.ini')]);
    writeFileSync(path.join(box.root, 'big.ini'), 'x'.repeat(limits.maxBytes + 1));
    mkdirSync(path.join(box.root, 'dir.yml'));
    const rules: ConfigFileRule[] = [
      { path: 'server.properties', parser: 'properties', find: { 'server-port': '{{server.build.default.port}}' } },
      { path: 'link.json', parser: 'json', find: { a: 2 } },
      { path: 'secret.yml', parser: 'yaml', find: { a: 2 } },
      { path: 'broken.json', parser: 'json', find: { a: 2 } },
      { path: 'fifo.ini', parser: 'ini', find: { a: 2 } },
      { path: 'big.ini', parser: 'ini', find: { a: 2 } },
      { path: 'dir.yml', parser: 'yaml', find: { a: 2 } },
      { path: 'config/new.yml', parser: 'yaml', find: { 'server.port': '{{server.build.default.port}}' } },
      { path: 'token.txt', parser: 'file', find: { 'token=': 'token={{config.token}}' } },
    ];
    const result = await applyConfigFiles(box.files, rules, ctx, limits);
    expect(result.written).toEqual(['server.properties', 'config/new.yml', 'token.txt']);
    expect(result.skipped.map((s) => s.path)).toEqual([
      'link.json',
      'secret.yml',
      'broken.json',
      'fifo.ini',
      'big.ini',
      'dir.yml',
    ]);
    const reason = (p: string) => result.skipped.find((s) => s.path === p)?.reason;
    expect(reason('secret.yml')).toMatch(/denylist/);
    expect(reason('broken.json')).toMatch(/broken\.json is not valid json/);
    expect(reason('big.ini')).toMatch(/bytes/);
    expect(readFileSync(path.join(outside, 'victim.json'), 'utf8')).toBe('{"a":1}\n');
    expect(readFileSync(path.join(box.root, 'secret.yml'), 'utf8')).toBe('a: 1\n');
    expect(readFileSync(path.join(box.root, 'broken.json'), 'utf8')).toBe('{ not json');
    expect(readFileSync(path.join(box.root, 'server.properties'), 'utf8')).toBe('# keep\nserver-port=25565\n');
    expect(readFileSync(path.join(box.root, 'config/new.yml'), 'utf8')).toBe('server:\n  port: "25565"\n');
    expect(readFileSync(path.join(box.root, 'token.txt'), 'utf8')).toBe('token={{config.token}}\n');
    expect(result.warnings).toEqual([expect.stringContaining('config.token')]);
  });

  it('handles at most maxFiles files', async () => {
    box = makeSandbox();
    const rules: ConfigFileRule[] = ['a', 'b', 'c'].map((n) => ({
      path: `${n}.txt`,
      parser: 'file',
      find: { x: 'x' },
    }));
    const result = await applyConfigFiles(box.files, rules, ctx, { ...limits, maxFiles: 2 });
    expect(result.written).toEqual(['a.txt', 'b.txt']);
    expect(result.skipped).toEqual([{ path: 'c.txt', reason: expect.stringContaining('more than 2') }]);
  });

  it('prints the time of one apply of four files (the target is 50 ms)', async () => {
    box = makeSandbox();
    writeFileSync(
      path.join(box.root, 'server.properties'),
      `${Array.from({ length: 60 }, (_, i) => `key-${i}=v${i}`).join('\n')}\n`,
    );
    writeFileSync(
      path.join(box.root, 'config.yml'),
      `# c\n${Array.from({ length: 60 }, (_, i) => `k${i}: ${i} # c${i}`).join('\n')}\n`,
    );
    writeFileSync(
      path.join(box.root, 'config.json'),
      JSON.stringify(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, i])), null, 2),
    );
    writeFileSync(
      path.join(box.root, 'game.ini'),
      `[network]\n${Array.from({ length: 60 }, (_, i) => `k${i} = ${i}`).join('\n')}\n`,
    );
    const rules: ConfigFileRule[] = [
      {
        path: 'server.properties',
        parser: 'properties',
        find: { 'key-1': '{{server.build.default.port}}', 'query.port': 1 },
      },
      { path: 'config.yml', parser: 'yaml', find: { k1: '{{server.build.default.port}}', 'a.b': 'c' } },
      { path: 'config.json', parser: 'json', find: { k1: '{{server.build.default.port}}', 'a.b': 'c' } },
      { path: 'game.ini', parser: 'ini', find: { 'network.k1': '{{server.build.default.port}}', 'network.x': 1 } },
    ];
    await applyConfigFiles(box.files, rules, ctx, limits); // first run loads the libraries
    const runs: number[] = [];
    for (let i = 0; i < 11; i++) {
      const t0 = performance.now();
      const r = await applyConfigFiles(box.files, rules, { ...ctx, port: 30000 + i }, limits);
      runs.push(performance.now() - t0);
      expect(r.written).toHaveLength(4);
    }
    runs.sort((a, b) => a - b);
    const median = runs[5] as number;
    console.log(
      `applyConfigFiles, 4 files of 60 keys: median ${median.toFixed(2)} ms, max ${runs.at(-1)?.toFixed(2)} ms`,
    );
    // A figure, not a bound: the target is 50 ms, but on a shared two-core machine under a parallel test run
    // (load 20+) four fsyncs and a timed assertion would make this flaky.
    expect(median).toBeGreaterThan(0);
  }, 60_000);
});
