import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../../../src/protocol/fields.js';
import { EggError } from '../../../../src/servers/egg/parse.js';
import { resolveEgg } from '../../../../src/servers/egg/resolve.js';
import { createServerPayload, resolveStartup, specFromPayload } from '../../../../src/servers/spec.js';

const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/eggs/${name}`, 'utf8'));
const minecraft = fixture('minecraft-like-v2.json');
const v1 = fixture('ptdl-v1-sigint.json');

/** Parses like the dispatcher does: the INVALID_PAYLOAD message, or the payload. */
function parse(payload: unknown) {
  const r = createServerPayload.safeParse(payload);
  if (!r.success) return { error: describeIssues(r.error) };
  return { data: r.data };
}

describe('egg → payload (PROTOCOL.md §4.6)', () => {
  it('fills every field of a PTDL_v2 egg, with the variables as environment defaults', () => {
    const { data } = parse({ egg: minecraft });
    expect(data).toBeDefined();
    const p = data!;
    expect(p.image).toBe('ghcr.io/example/yolks:java_21');
    expect(p.startup).toBe(minecraft.startup);
    expect(p.stopCommand).toBe('stop');
    expect(p.stopSignal).toBeUndefined();
    expect(new RegExp(p.startupDone!).test('[12:00:01] Done (3.2s)! For help, type "help"')).toBe(true);
    expect(new RegExp(p.startupDone!).test('Done (3.2s). For help')).toBe(false);
    expect(p.install).toEqual({
      script: minecraft.scripts.installation.script,
      container: 'ghcr.io/example/installers:alpine',
      entrypoint: 'ash',
    });
    expect(p.denylist).toEqual(['*.jar.old']);
    expect(p.environment).toMatchObject({ SERVER_JARFILE: 'server.jar', MAX_PLAYERS: '20', DIFFICULTY: 'normal' });
    expect(p.configFiles).toEqual([
      {
        path: 'server.properties',
        parser: 'properties',
        find: {
          'server-ip': '',
          'server-port': '{{server.build.default.port}}',
          'query.port': '{{server.build.default.port}}',
          motd: '{{server.build.env.MOTD}}',
        },
      },
    ]);
    expect(p.eggInfo).toEqual({
      version: 'PTDL_v2',
      name: 'Blockgame Java',
      author: 'fixtures@example.invalid',
      description: 'A block game server, for tests.',
      features: ['eula', 'java_version', 'pid_limit'],
    });
    // `int` is not a Laravel rule (published eggs carry it): ignored, and said so.
    expect(p.eggWarnings).toEqual(['egg variable WHITELIST: rule "int" is not checked by the agent']);
    expect('egg' in p).toBe(false);
  });

  it('takes the egg as a JSON string too, and a PTDL_v1 egg with JSON-string config and ^C', () => {
    const { data } = parse({ egg: JSON.stringify(v1) });
    const p = data!;
    expect(p.image).toBe('ghcr.io/example/games:debian');
    expect(p.stopSignal).toBe('SIGINT');
    expect(p.stopCommand).toBeUndefined();
    const done = new RegExp(p.startupDone!);
    expect(done.test('[info] Server started on 0.0.0.0')).toBe(true);
    expect(done.test('Ready in 12 ms')).toBe(true);
    expect(done.test('Ready in twelve ms')).toBe(false);
    expect(p.configFiles).toEqual([
      { path: 'cfg/server.ini', parser: 'ini', find: { 'network.port': '{{server.build.default.port}}' } },
    ]);
    expect(p.denylist).toEqual(['secrets/*']);
    expect(p.environment).toEqual({ SERVER_NAME: 'My Server', TICKRATE: '30' });
    expect(p.eggInfo?.features).toEqual([]);
  });

  it('lets explicit payload fields win over the egg', () => {
    const { data } = parse({
      egg: minecraft,
      image: 'alpine:3',
      startup: 'echo mine',
      stopCommand: 'quit',
      startupDone: 'ready',
      install: { script: 'true' },
      denylist: [],
      configFiles: [],
      environment: JSON.stringify({ MAX_PLAYERS: 50, EXTRA: 'x', DIFFICULTY: null }),
    });
    const p = data!;
    expect(p).toMatchObject({ image: 'alpine:3', startup: 'echo mine', stopCommand: 'quit', startupDone: 'ready' });
    expect(p.install).toEqual({ script: 'true', entrypoint: '/bin/sh' });
    expect(p.denylist).toEqual([]);
    expect(p.configFiles).toEqual([]);
    // null means "no value": the egg's default stays (Pterodactyl: server value ?? default).
    expect(p.environment).toMatchObject({ MAX_PLAYERS: '50', EXTRA: 'x', DIFFICULTY: 'normal' });
  });

  it('picks the image by name or by value with dockerImage, and refuses one the egg does not have', () => {
    expect(parse({ egg: minecraft, dockerImage: 'Java 17' }).data?.image).toBe('ghcr.io/example/yolks:java_17');
    expect(parse({ egg: minecraft, dockerImage: 'ghcr.io/example/yolks:java_17' }).data?.image).toBe(
      'ghcr.io/example/yolks:java_17',
    );
    expect(parse({ egg: minecraft, dockerImage: 'Java 8' }).error).toMatch(/^payload\.dockerImage: is not one of/);
  });

  it('refuses a value that breaks a variable rule, naming the variable and not echoing the value', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ SERVER_JARFILE: 'server.zip' }, 'SERVER_JARFILE'],
      [{ SERVER_JARFILE: '' }, 'SERVER_JARFILE'],
      [{ GAME_VERSION: 'x'.repeat(21) }, 'GAME_VERSION'],
      [{ MAX_PLAYERS: '1001' }, 'MAX_PLAYERS'],
      [{ MAX_PLAYERS: '1.5' }, 'MAX_PLAYERS'],
      [{ DIFFICULTY: 'nightmare' }, 'DIFFICULTY'],
      [{ MOTD: 'has spaces' }, 'MOTD'],
      [{ DL_PATH: 'not a url' }, 'DL_PATH'],
      [{ WHITELIST: 'yes' }, 'WHITELIST'],
    ];
    for (const [environment, name] of cases) {
      const { error } = parse({ egg: minecraft, environment });
      expect(error, name).toMatch(new RegExp(`^payload\\.environment\\.${name}: breaks the rule`));
      for (const value of Object.values(environment)) if (String(value).length > 3) expect(error).not.toContain(value);
    }
    // Blank values skip every rule but required (Laravel): nullable|url with "" is fine.
    expect(parse({ egg: minecraft, environment: { DL_PATH: '', MOTD: '' } }).data).toBeDefined();
    expect(parse({ egg: minecraft, environment: { WHITELIST: true, MAX_PLAYERS: 1000 } }).data).toBeDefined();
  });

  it('refuses each hostile egg of the fixture set with INVALID_PAYLOAD naming the field', () => {
    const { cases } = fixture('hostile.json') as { cases: Array<{ name: string; egg: unknown; field: string }> };
    for (const c of cases) {
      const { error } = parse({ egg: c.egg });
      expect(error, c.name).toBeDefined();
      expect(error, c.name).toContain(c.field);
    }
  });

  it('refuses megabytes, deep nesting and too many values before the schema reads them', () => {
    const huge = { meta: { version: 'PTDL_v2' }, description: 'x'.repeat(2 * 1024 * 1024) };
    expect(parse({ egg: huge }).error).toMatch(/^payload\.egg: larger than/);
    expect(parse({ egg: JSON.stringify(huge) }).error).toMatch(/^payload\.egg: larger than/);
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(parse({ egg: { meta: { version: 'PTDL_v2' }, x: deep } }).error).toMatch(/nested deeper/);
    expect(
      parse({ egg: `{"meta":{"version":"PTDL_v2"},"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}` }).error,
    ).toMatch(/nested deeper/);
    const wide = { meta: { version: 'PTDL_v2' }, x: Array.from({ length: 30_000 }, () => 0) };
    expect(parse({ egg: wide }).error).toMatch(/more than 20000 values/);
    // A nested JSON string is held to the same bounds once parsed.
    const nested = { meta: { version: 'PTDL_v1' }, config: { files: `{"a":${'['.repeat(50)}${']'.repeat(50)}}` } };
    expect(parse({ egg: nested }).error).toMatch(/^payload\.egg\.config\.files: nested deeper/);
  });

  it('gives a bad egg an INVALID_PAYLOAD and never throws anything else, whatever the JSON', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 6 }), fc.json({ maxDepth: 6 })), (egg) => {
        const r = createServerPayload.safeParse({ egg, image: 'alpine:3' });
        if (!r.success) expect(describeIssues(r.error)).toMatch(/^payload\./);
      }),
      { numRuns: 500 },
    );
  });

  it('survives random values in every egg field (rules, images, files, done, stop)', () => {
    const anyField = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary' }));
    const rule = fc.oneof(
      fc.string(),
      fc.constantFrom('regex:/(a+)+$/', 'regex:', 'between:', 'in:', 'max:', 'min:-1', 'regex:(x|y)', 'regex:/[/'),
      fc.stringMatching(/^(regex|in|between|max|min|digits_between):.{0,20}$/),
    );
    fc.assert(
      fc.property(
        fc.record({
          docker_images: anyField,
          images: anyField,
          startup: anyField,
          file_denylist: anyField,
          features: anyField,
          config: fc.record({ files: anyField, startup: anyField, stop: anyField, logs: anyField }),
          variables: fc.array(
            fc.record({
              env_variable: fc.oneof(fc.constantFrom('A', 'B_2', '_X'), fc.string()),
              default_value: anyField,
              rules: fc.oneof(rule, fc.array(rule, { maxLength: 5 }), fc.constantFrom(...['required|integer', null])),
            }),
            { maxLength: 5 },
          ),
        }),
        (partial) => {
          const egg = { meta: { version: 'PTDL_v2' }, ...partial };
          try {
            const r = createServerPayload.safeParse({ egg, image: 'alpine:3' });
            if (!r.success) expect(describeIssues(r.error)).toMatch(/^payload\./);
          } catch (err) {
            throw new Error(`threw ${(err as Error).stack} for ${JSON.stringify(egg).slice(0, 500)}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stops a catastrophic regex on its time budget instead of hanging', () => {
    const egg = {
      meta: { version: 'PTDL_v2' },
      variables: [{ env_variable: 'NAME', default_value: `${'a'.repeat(40)}!`, rules: 'regex:/^(a+)+$/' }],
    };
    const started = Date.now();
    expect(parse({ egg, image: 'alpine:3' }).error).toMatch(/^payload\.environment\.NAME: the regex took longer/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('returns a payload without egg unchanged, and throws EggError with the field path', () => {
    const payload = { image: 'alpine:3' };
    expect(resolveEgg(payload).payload).toBe(payload);
    expect(resolveEgg({ image: 'a', egg: null }).payload).toEqual({ image: 'a' });
    try {
      resolveEgg({ egg: { meta: { version: 'PTDL_v2' }, variables: [{ env_variable: 'P', rules: 'required' }] } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EggError);
      expect((err as EggError).path).toEqual(['environment', 'P']);
    }
  });
});

describe('startup placeholders from eggs', () => {
  it('resolves {{server.build.*}}, {{env.NAME}} and {{server.build.env.NAME}}, never {{config.*}}', () => {
    const { data } = parse({
      egg: minecraft,
      startup:
        'run {{server.build.default.ip}}:{{server.build.default.port}} {{server.build.memory}} {{env.MOTD}} ' +
        '{{server.build.env.GAME_VERSION}} {{config.token}} {{config.docker.interface}} {{env.config}}',
      limits: { memory: 2048 },
      ports: [{ ip: '0.0.0.0', port: 25565 }],
    });
    const spec = specFromPayload('s1', data!, new Date());
    const resolved = resolveStartup(spec, { ip: '0.0.0.0', timezone: 'UTC' });
    expect(resolved.startup).toBe(
      'run 0.0.0.0:25565 2048 A_test_server latest {{config.token}} {{config.docker.interface}} {{env.config}}',
    );
    expect(resolved.unresolved.sort()).toEqual(['config.docker.interface', 'config.token', 'env.config']);
  });

  it('keeps the egg fields the spec stores', () => {
    const spec = specFromPayload('s1', parse({ egg: v1 }).data!, new Date());
    expect(spec).toMatchObject({ stopSignal: 'SIGINT', eggInfo: { version: 'PTDL_v1', name: 'Dedicated Thing' } });
    expect(spec.configFiles).toHaveLength(1);
  });
});
