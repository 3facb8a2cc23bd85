import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { prepareDataDir, removeDataDir } from '../helpers/agent.js';

/**
 * A fresh host, as far as a test can make one: the package is packed with `npm pack` (its prepack hook included)
 * from a tree that holds only what package.json ships, installed the way the README documents into an empty
 * prefix, and its bin started from there: no src/, no TypeScript, no repository around it.
 */
const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE_DIR = path.dirname(process.execPath);
// No npm_* variables of an outer `npm test`: they would configure the npm under test (prefix, global, …).
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: `${NODE_DIR}:${process.env.PATH ?? ''}`,
  HOME: process.env.HOME ?? tmpdir(),
  ...extra,
});

let work: string;
let prefix: string;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cap-release-'));
  prefix = path.join(work, 'prefix');
});
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

async function stageShippedFiles(stage: string): Promise<void> {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  for (const entry of ['package.json', ...pkg.files.filter((f) => !f.startsWith('!'))]) {
    const from = path.join(ROOT, entry);
    if (await stat(from).catch(() => undefined)) await cp(from, path.join(stage, entry), { recursive: true });
  }
}

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Resolves once a stdout line matches `pattern`; rejects if the process exits first. */
function lineMatching(agent: Started, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no ${what} within ${timeoutMs} ms:\n${agent.output()}`)), timeoutMs);
    const scan = () => {
      const match = agent.output().match(pattern);
      if (match) done(undefined, match);
    };
    const done = (err?: Error, match?: RegExpMatchArray) => {
      clearTimeout(timer);
      agent.child.stdout?.off('data', scan);
      if (err) reject(err);
      else resolve(match!);
    };
    agent.child.stdout?.on('data', scan);
    void agent.exited.then((code) => done(new Error(`exited with ${code} before ${what}:\n${agent.output()}`)));
    scan();
  });
}

describe('the release artifact on a fresh host', () => {
  it('packs without sources, installs into an empty prefix, and its bin runs the agent with the V8 flags', async () => {
    const stage = path.join(work, 'stage');
    await stageShippedFiles(stage);
    const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: stage,
      env: cleanEnv(),
    });
    const [{ filename, files }] = JSON.parse(packed) as [{ filename: string; files: { path: string }[] }];
    const shipped = files.map((f) => f.path);
    expect(shipped).toContain('dist/cli/bin.js');
    expect(shipped).toContain('deploy/ctrl-alt-play-agent.service');
    expect(shipped.filter((f) => f.startsWith('src/') || f.endsWith('.map') || f.endsWith('.ts'))).toEqual([]);

    // README, "Install". --prefer-offline: the tarballs come from the cache `npm ci` filled (the metadata of the
    // dependency ranges from the registry when the cache lacks it: npm ci caches no metadata). --ignore-scripts:
    // no dependency runs a script as root, and no compiler is needed (ssh2's optional native crypto is not built).
    await run(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--omit=dev',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(work, filename),
      ],
      { cwd: work, env: cleanEnv() },
    );
    const bin = path.join(prefix, 'bin', 'ctrl-alt-play-agent');
    const installed = path.join(prefix, 'lib', 'node_modules', 'ctrl-alt-play-agent');
    expect((await stat(bin)).mode & 0o111).not.toBe(0);
    expect(await readdir(installed)).not.toContain('src');
    expect(await readdir(path.join(installed, 'node_modules'))).not.toContain('typescript');

    // `npm start` in the installed package runs this as prestart: with no src/ it must build nothing.
    const before = await readdir(path.join(installed, 'dist'));
    await run(process.execPath, [path.join(installed, 'scripts', 'build.mjs')], { cwd: installed, env: cleanEnv() });
    expect(await readdir(path.join(installed, 'dist'))).toEqual(before);

    const { dataDir } = await prepareDataDir();
    cleanup.push(() => removeDataDir(dataDir));
    const config = path.join(work, 'config.yml');
    await writeFile(config, 'logLevel: info\n');
    // The bin itself, through its shebang (`/usr/bin/env node`: the first node on PATH, this test's).
    const child = spawn(bin, ['run', '--config', config], {
      cwd: work,
      env: cleanEnv({ AGENT_DATA_DIR: dataDir, AGENT_HOST: '127.0.0.1', AGENT_PORT: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const agent: Started = {
      child,
      output: () => out,
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    };
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await agent.exited;
    });

    const [listening] = await lineMatching(agent, /^\{.*"agent listening".*$/m, 'the listening line');
    const url = `http://127.0.0.1:${(JSON.parse(listening) as { port: number }).port}`;
    expect((await fetch(`${url}/health`)).status).toBe(200);

    // The launcher replaced itself (same pid) with a node that has the flags and runs the installed launcher.
    const cmdline = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline).toEqual(expect.arrayContaining([...NODE_FLAGS]));
    expect(cmdline.some((arg) => arg.endsWith('ctrl-alt-play-agent/dist/cli/bin.js'))).toBe(true);

    // SIGHUP is not the end (its default action is): the config is re-read and the agent keeps answering.
    child.kill('SIGHUP');
    await lineMatching(agent, /SIGHUP: configuration re-read/, 'SIGHUP line');
    expect((await fetch(`${url}/health`)).status).toBe(200);

    child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  }, 90_000);
});
