import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, mergeSources, redactConfig } from '../../../src/config/load.js';

async function yamlFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cap-config-'));
  const file = path.join(dir, 'config.yml');
  await writeFile(file, text);
  return file;
}

const base = { cwd: '/srv', isRoot: false, hostName: 'node-a' };

describe('loadConfig', () => {
  it('applies defaults: port 8081, host 0.0.0.0, node id = host name, ./data for non-root', () => {
    const { config } = loadConfig({ ...base, env: {}, configPath: undefined });
    expect(config.port).toBe(8081);
    expect(config.host).toBe('0.0.0.0');
    expect(config.nodeId).toBe('node-a');
    expect(config.dataDir).toBe('/srv/data');
    expect(config.http.bodyLimitBytes).toBe(70 * 1024 * 1024);
    expect(config.token).toBeUndefined();
  });

  it('uses /var/lib/ctrl-alt-play-agent as root', () => {
    const { config } = loadConfig({ ...base, isRoot: true, env: {} });
    expect(config.dataDir).toBe('/var/lib/ctrl-alt-play-agent');
  });

  it('ranks flags over environment over file over defaults', async () => {
    const file = await yamlFile('port: 9001\nhost: 10.0.0.1\nnodeId: from-file\nlogLevel: warn\n');
    const env = { AGENT_PORT: '9002', AGENT_HOST: '127.0.0.1' };
    const { config } = loadConfig({ ...base, env, configPath: file, flags: { port: '9003' } });
    expect(config.port).toBe(9003);
    expect(config.host).toBe('127.0.0.1');
    expect(config.nodeId).toBe('from-file');
    expect(config.logLevel).toBe('warn');
  });

  it('maps every documented environment variable', () => {
    const env = {
      AGENT_TOKEN: 't'.repeat(40),
      AGENT_PORT: '8181',
      AGENT_HOST: '::',
      AGENT_NODE_ID: 'cm3x9k2ab0001',
      AGENT_DATA_DIR: '/tmp/agent',
      PANEL_URL: 'https://panel.example.com',
      LOG_LEVEL: 'debug',
      DOCKER_HOST: 'unix:///run/docker.sock',
    };
    const { config } = loadConfig({ ...base, env });
    expect(config).toMatchObject({
      token: env.AGENT_TOKEN,
      port: 8181,
      host: '::',
      nodeId: 'cm3x9k2ab0001',
      dataDir: '/tmp/agent',
      logLevel: 'debug',
      panel: { url: 'https://panel.example.com' },
      docker: { host: 'unix:///run/docker.sock' },
    });
  });

  it('names the key and the problem for an invalid value', async () => {
    const file = await yamlFile('port: 99999\nservers:\n  pidsLimit: -1\n');
    let error: unknown;
    try {
      loadConfig({ ...base, env: { LOG_LEVEL: 'loud' }, configPath: file });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/^port: /m);
    expect(problems).toMatch(/^logLevel: /m);
    expect(problems).toMatch(/^servers\.pidsLimit: /m);
  });

  it('refuses unknown keys, a non-numeric port and an empty token from a file', async () => {
    expect(() => loadConfig({ ...base, env: { AGENT_PORT: 'abc' } })).toThrow(/port/);
    const file = await yamlFile('prot: 1\n');
    expect(() => loadConfig({ ...base, env: {}, configPath: file })).toThrow(/prot/);
    const empty = await yamlFile('token: ""\n');
    expect(() => loadConfig({ ...base, env: {}, configPath: empty })).toThrow(/token/);
  });

  it('reports an explicit config file that does not exist or is not YAML', async () => {
    expect(() => loadConfig({ ...base, env: {}, configPath: '/nonexistent/c.yml' })).toThrow(ConfigError);
    const bad = await yamlFile('port: [1\n');
    expect(() => loadConfig({ ...base, env: {}, configPath: bad })).toThrow(/not valid YAML/);
  });

  it('freezes the result and redacts secrets for display', () => {
    const { config } = loadConfig({ ...base, env: { AGENT_TOKEN: 'secret-token-value' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.servers)).toBe(true);
    expect(JSON.stringify(redactConfig(config))).not.toContain('secret-token-value');
  });
});

describe('mergeSources', () => {
  it('merges nested objects key by key and skips undefined', () => {
    expect(mergeSources({ a: { b: 1, c: 2 }, d: 1 }, { a: { c: 3 }, d: undefined })).toEqual({
      a: { b: 1, c: 3 },
      d: 1,
    });
  });
});

describe('deploy/config.example.yml', () => {
  it('is a valid config file whose values are the defaults', () => {
    const file = new URL('../../../deploy/config.example.yml', import.meta.url).pathname;
    const fromExample = loadConfig({ ...base, env: {}, configPath: file }).config;
    const defaults = loadConfig({ ...base, env: {} }).config;
    expect(fromExample).toEqual(defaults);
  });
});
