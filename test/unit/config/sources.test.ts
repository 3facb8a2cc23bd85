import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, envNameFor, LEGACY_ENV } from '../../../src/config/config-keys.js';
import { ConfigError, formatSources, loadConfig } from '../../../src/config/load.js';

const base = { cwd: '/srv', isRoot: false, hostName: 'node-a' };

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cap-sources-'));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('environment variables for every key', () => {
  it('derives one variable per schema key, and they are unique (also against every _FILE twin and legacy name)', () => {
    const names = CONFIG_KEYS.map((k) => k.env);
    const all = [...names, ...names.map((n) => `${n}_FILE`), ...Object.keys(LEGACY_ENV)];
    expect(new Set(all).size).toBe(all.length);
    expect(CONFIG_KEYS.length).toBeGreaterThan(80);
    expect(CONFIG_KEYS.map((k) => k.path)).toEqual(expect.arrayContaining(['files.readMaxBytes', 'log.file']));
    expect(envNameFor('files.readMaxBytes')).toBe('AGENT_FILES_READ_MAX_BYTES');
    // The names that predate the derived ones are derived the same way (or are legacy aliases).
    for (const name of ['AGENT_TOKEN', 'AGENT_PORT', 'AGENT_HOST', 'AGENT_NODE_ID', 'AGENT_DATA_DIR']) {
      expect(names).toContain(name);
    }
  });

  it('gives two paths the same name only when they spell the same words (property)', () => {
    // Words as the name sees them: segments split at camelCase humps, lower-cased. `a.bC` and `aB.c` share a name,
    // which is why the real keys are checked for uniqueness above; anything else must never collide.
    const words = (p: string) => p.split(/\.|(?<=[a-z0-9])(?=[A-Z])/).map((w) => w.toLowerCase());
    const segment = fc.stringMatching(/^[a-z][a-z0-9]{0,4}([A-Z][a-z0-9]{0,4}){0,3}$/);
    const pathArb = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));
    fc.assert(
      fc.property(pathArb, pathArb, (a, b) => {
        expect(envNameFor(a)).toMatch(/^AGENT_[A-Z0-9_]+$/);
        expect(envNameFor(a) === envNameFor(b)).toBe(words(a).join(' ') === words(b).join(' '));
      }),
      { numRuns: 2000 },
    );
  });

  it('sets every key from its variable, nested ones included', () => {
    const env = {
      AGENT_FILES_READ_MAX_BYTES: '1234',
      AGENT_SERVERS_BOOT_RESTORE: 'false',
      AGENT_WS_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      AGENT_ALLOCATIONS_POOL: '["25565-25570", {"from": 27015}]',
      AGENT_MODS_APP_IDS: '{"img:1": "123"}',
      AGENT_LOG_FILE: '/var/log/agent.log',
    };
    const { config, sources } = loadConfig({ ...base, env });
    expect(config.files.readMaxBytes).toBe(1234);
    expect(config.servers.bootRestore).toBe(false);
    expect(config.ws.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.allocations.pool).toEqual([
      { from: 25565, to: 25570, ip: undefined },
      { from: 27015, to: 27015, ip: undefined },
    ]);
    expect(config.mods.appIds).toEqual({ 'img:1': '123' });
    expect(config.log.file).toBe('/var/log/agent.log');
    expect(sources['files.readMaxBytes']).toEqual({ kind: 'env', name: 'AGENT_FILES_READ_MAX_BYTES' });
    expect(sources['files.listMaxEntries']).toEqual({ kind: 'default' });
  });

  it('keeps the legacy names working; the derived name wins over a legacy one', () => {
    const legacy = loadConfig({ ...base, env: { PANEL_URL: 'https://p.example', LOG_LEVEL: 'warn' } });
    expect(legacy.config.panel.url).toBe('https://p.example');
    expect(legacy.config.logLevel).toBe('warn');
    expect(legacy.sources.logLevel).toEqual({ kind: 'env', name: 'LOG_LEVEL' });
    const both = loadConfig({ ...base, env: { LOG_LEVEL: 'warn', AGENT_LOG_LEVEL: 'debug' } });
    expect(both.config.logLevel).toBe('debug');
    expect(both.sources.logLevel).toEqual({ kind: 'env', name: 'AGENT_LOG_LEVEL' });
  });

  it('reads *_FILE secrets from their file, trimmed', async () => {
    const tokenFile = await tempFile('token', '  s3cret-token-from-a-file-0123456789\n');
    const apiFile = await tempFile('api', 'panel-api-token\n');
    const { config, sources } = loadConfig({
      ...base,
      env: { AGENT_TOKEN_FILE: tokenFile, AGENT_PANEL_API_TOKEN_FILE: apiFile },
    });
    expect(config.token).toBe('s3cret-token-from-a-file-0123456789');
    expect(config.panel.apiToken).toBe('panel-api-token');
    expect(sources.token).toEqual({ kind: 'env', name: 'AGENT_TOKEN_FILE' });
  });

  it('names the variable when a _FILE cannot be read or both forms are set', async () => {
    const missing = problemsOf(() => loadConfig({ ...base, env: { AGENT_TOKEN_FILE: '/nonexistent/token' } }));
    expect(missing.join('\n')).toMatch(/token \(env AGENT_TOKEN_FILE\): cannot read \/nonexistent\/token: ENOENT/);
    const file = await tempFile('t', 'x');
    const both = problemsOf(() => loadConfig({ ...base, env: { AGENT_TOKEN: 'a', AGENT_TOKEN_FILE: file } }));
    expect(both.join('\n')).toMatch(/both AGENT_TOKEN and AGENT_TOKEN_FILE/);
  });
});

describe('errors name the source', () => {
  it('an invalid value names its variable, file or flag', async () => {
    expect(problemsOf(() => loadConfig({ ...base, env: { AGENT_FILES_READ_MAX_BYTES: 'lots' } }))[0]).toMatch(
      /^files\.readMaxBytes: .* \(set by env AGENT_FILES_READ_MAX_BYTES\)$/,
    );
    const file = await tempFile('c.yml', 'files:\n  readMaxBytes: -1\n');
    expect(problemsOf(() => loadConfig({ ...base, env: {}, configPath: file }))[0]).toMatch(
      new RegExp(`^files\\.readMaxBytes: .* \\(set by file ${file}\\)$`),
    );
    expect(problemsOf(() => loadConfig({ ...base, env: {}, flags: { port: '70000' } }))[0]).toMatch(
      /^port: .* \(set by flag --port\)$/,
    );
  });

  it('an unknown key names the file; an object-level rule names the sources of its keys; bad JSON its variable', async () => {
    const file = await tempFile('c.yml', 'files:\n  nope: 1\n');
    expect(problemsOf(() => loadConfig({ ...base, env: {}, configPath: file }))[0]).toMatch(
      new RegExp(`nope.*\\(set by file ${file}\\)$`),
    );
    expect(problemsOf(() => loadConfig({ ...base, env: { AGENT_TLS_CERT_FILE: '/c.pem' } }))[0]).toMatch(
      /^tls: certFile and keyFile must be given together \(set by env AGENT_TLS_CERT_FILE\)$/,
    );
    expect(problemsOf(() => loadConfig({ ...base, env: { AGENT_MODS_APP_IDS: '{oops' } }))[0]).toMatch(
      /^mods\.appIds \(env AGENT_MODS_APP_IDS\): not valid JSON/,
    );
  });
});

describe('config print --sources', () => {
  it('lists every key with its source and never a secret', async () => {
    const file = await tempFile('c.yml', 'nodeId: from-file\npanel:\n  apiToken: panel-secret-value\n');
    const { config, sources } = loadConfig({
      ...base,
      env: {
        AGENT_TOKEN: 'node-secret-value-0123456789abcdef',
        AGENT_DOCKER_REGISTRIES: '{"ghcr.io":{"username":"u","password":"reg-secret"}}',
      },
      configPath: file,
      flags: { port: '9003' },
    });
    const text = formatSources(config, sources);
    expect(text).toMatch(/^port: 9003\s+# flag --port$/m);
    expect(text).toMatch(new RegExp(`^nodeId: "from-file"\\s+# file ${file}$`, 'm'));
    expect(text).toMatch(/^token: "\[redacted\]"\s+# env AGENT_TOKEN$/m);
    expect(text).toMatch(/^files\.readMaxBytes: 10485760\s+# default$/m);
    expect(text.split('\n').filter(Boolean)).toHaveLength(CONFIG_KEYS.length);
    for (const secret of ['node-secret-value', 'panel-secret-value', 'reg-secret']) expect(text).not.toContain(secret);
  });
});
