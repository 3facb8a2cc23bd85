import { readFile, writeFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthResponse, readyResponse, statusResponse } from '../../../src/api/http/openapi.js';
import { removeDataDir, startTestAgent, type TestAgent } from '../../helpers/agent.js';

/**
 * The document the running agent serves, from its live dispatcher; no Docker needed (the agent is pointed at a
 * socket that does not exist). Validated offline: every $ref is internal, so the validator fetches nothing.
 */
let agent: TestAgent;
let served: Record<string, any>;

beforeAll(async () => {
  agent = await startTestAgent({ docker: { host: 'unix:///nonexistent/cap-openapi.sock' } }, undefined, {
    skipReady: true,
  });
  const res = await fetch(`${agent.url}/api/docs`, { headers: { authorization: `Bearer ${agent.token}` } });
  expect(res.status).toBe(200);
  served = (await res.json()) as Record<string, any>;
});

afterAll(async () => {
  await agent?.stop();
  if (agent) await removeDataDir(agent.dataDir);
});

describe('GET /api/docs', () => {
  it('is a valid OpenAPI 3.1 document (a maintained validator, offline)', async () => {
    expect(served.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(served) as never);
  });

  it('has a payload schema and a command schema for every action the agent dispatches', async () => {
    const status = await fetch(`${agent.url}/api/command`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}` },
      body: JSON.stringify({ action: 'no_such_action' }),
    });
    expect(((await status.json()) as { code: string }).code).toBe('UNKNOWN_ACTION');
    const mapping = served.paths['/api/command'].post.requestBody.content['application/json'].schema.discriminator
      .mapping as Record<string, string>;
    const actions = Object.keys(mapping);
    expect(actions.length).toBeGreaterThan(30);
    for (const name of ['create_server', 'start_server', 'console:command', 'get_server_metrics', 'write_file']) {
      expect(actions).toContain(name);
    }
    const schemas = served.components.schemas as Record<string, any>;
    for (const name of actions) {
      const key = name.replace(/[^A-Za-z0-9._-]/g, '.');
      expect(schemas[`payload.${key}`], name).toBeDefined();
      expect(schemas[`command.${key}`].properties.action.const).toBe(name);
    }
    // Generated from the zod schema, not written beside it: create_server's image is required and a string.
    expect(schemas['payload.create_server'].properties.image.type).toBe('string');
    expect(schemas['payload.create_server'].required).toContain('image');
  });

  it("gives every action the mode docs/PROTOCOL.md's action tables give it (sync, ack or bg, §2.4)", async () => {
    const schemas = served.components.schemas as Record<string, any>;
    const protocol = await readFile(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8');
    let compared = 0;
    for (const line of protocol.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      const modes = cells.at(-2)?.split(' / ') ?? [];
      if (!line.startsWith('| `') || !modes.every((m) => ['sync', 'ack', 'bg'].includes(m))) continue;
      const names = [...(cells[1] ?? '').matchAll(/`([a-z_:]+)`/g)].map((m) => m[1] as string);
      names.forEach((name, i) => {
        const declared = schemas[`command.${name.replace(/[^A-Za-z0-9._-]/g, '.')}`]?.['x-mode'];
        expect(declared, name).toBe(modes.length === names.length ? modes[i] : modes[0]);
        compared++;
      });
    }
    expect(compared).toBeGreaterThan(30);
  });

  it('asks for the node token like every route but /health and /ready (PROTOCOL.md §2.1)', async () => {
    expect((await fetch(`${agent.url}/api/docs`)).status).toBe(401);
  });

  it('describes what /health, /ready and /api/status really answer', async () => {
    healthResponse.parse(await (await fetch(`${agent.url}/health`)).json());
    readyResponse.parse(await (await fetch(`${agent.url}/ready`)).json());
    const status = await fetch(`${agent.url}/api/status`, { headers: { authorization: `Bearer ${agent.token}` } });
    statusResponse.parse(await status.json());
  });

  // `npm run docs:openapi` runs this file with CAP_WRITE_OPENAPI=1: the committed file is then what the agent served.
  it('equals the committed docs/openapi.json (run `npm run docs:openapi` when this fails)', async () => {
    const file = new URL('../../../docs/openapi.json', import.meta.url);
    if (process.env.CAP_WRITE_OPENAPI === '1') await writeFile(file, `${JSON.stringify(served, null, 2)}\n`);
    const committed = JSON.parse(await readFile(file, 'utf8'));
    expect(served).toEqual(committed);
  });
});
