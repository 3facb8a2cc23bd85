import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createServerPayload, specFromPayload } from '../../../../src/servers/spec.js';
import { updatedSpec } from '../../../../src/servers/update.js';

const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/eggs/${name}`, 'utf8'));

describe('update_server with an egg (through create_server parsing)', () => {
  const created = specFromPayload('s1', createServerPayload.parse({ egg: fixture('ptdl-v1-sigint.json') }), new Date());

  it("replaces the stored egg's fields with the new egg's", () => {
    expect(created).toMatchObject({ stopSignal: 'SIGINT', denylist: ['secrets/*'] });
    const next = updatedSpec(created, { egg: fixture('minecraft-like-v2.json') }, new Date());
    expect(next.stopSignal).toBeUndefined();
    expect(next.stopCommand).toBe('stop');
    expect(next.image).toBe('ghcr.io/example/yolks:java_21');
    expect(next.denylist).toEqual(['*.jar.old']);
    expect(next.configFiles?.map((f) => f.path)).toEqual(['server.properties']);
    expect(next.eggInfo?.name).toBe('Blockgame Java');
    // Values stored before are the server's own now, and win over the new egg's defaults.
    expect(next.environment.SERVER_NAME).toBe('My Server');
    expect(next.environment.MAX_PLAYERS).toBe('20');
  });

  it('refuses a bad egg with INVALID_PAYLOAD naming the field, leaving the stored spec as it was', () => {
    const before = JSON.stringify(created);
    const bad = fixture('minecraft-like-v2.json');
    expect(() => updatedSpec(created, { egg: bad, environment: { MAX_PLAYERS: 'lots' } }, new Date())).toThrow(
      /payload\.environment\.MAX_PLAYERS: breaks the rule "integer"/,
    );
    expect(() =>
      updatedSpec(created, { egg: { meta: { version: 'PTDL_v2' }, config: { files: { '../x': {} } } } }, new Date()),
    ).toThrow(/payload\.egg\.config\.files/);
    expect(JSON.stringify(created)).toBe(before);
  });
});
