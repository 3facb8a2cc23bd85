import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EULA_NOTICE } from '../../src/servers/egg/eula.js';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';

/**
 * Eggs as published (PROTOCOL.md §4.6) against the real Engine: the egg's stop, done line, variables and install
 * script drive a busybox "game". Each egg names a made-up image and the payload's `image` wins over it, so the
 * test image runs (explicit payload fields win over the egg's).
 */

let agent: TestAgent;
const created: string[] = [];
/** The reply of the last successful create, for its warnings. */
let lastCreate: Record<string, any> = {};
/** Far above what a graceful stop here takes: reaching it (then SIGKILL, exit 137) is a failure, not a race. */
const STOP_TIMEOUT_S = 30;

beforeAll(async () => {
  agent = await startTestAgent();
});

afterAll(async () => {
  for (const id of created) await agent.command({ action: 'delete_server', serverId: id });
  await waitFor(
    async () => (await agent.command({ action: 'list_servers' })).data.servers.length === 0,
    'the servers to be deleted',
  );
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

function egg(overrides: Record<string, unknown>, config: Record<string, unknown> = {}) {
  return {
    meta: { version: 'PTDL_v2' },
    name: 'Shell game',
    docker_images: { Game: 'ghcr.io/example/not-pulled:latest' },
    config: { files: '{}', logs: '{}', ...config },
    variables: [],
    ...overrides,
  };
}

async function history(id: string): Promise<string[]> {
  return (await agent.command({ action: 'console:history', serverId: id })).data.history;
}

async function create(payload: Record<string, unknown>, id = uuid()) {
  const r = await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, ...payload } });
  expect(r).toMatchObject({ success: true });
  lastCreate = r;
  created.push(id);
  await waitForStatus(agent, id, 'offline');
  return id;
}

async function start(id: string) {
  expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
  await waitForStatus(agent, id, 'running');
}

/** stop_server as the panel sends it: SIGTERM, so that the egg's own stop must win over it. */
async function stop(id: string) {
  const r = await agent.command({
    action: 'stop_server',
    serverId: id,
    payload: { signal: 'SIGTERM', timeout: STOP_TIMEOUT_S },
  });
  expect(r).toMatchObject({ success: true, data: { status: 'stopping' } });
  const done = await waitForStatus(agent, id, 'offline', (STOP_TIMEOUT_S + 15) * 1000);
  return { exitCode: done?.data.exitCode as number, lines: await history(id) };
}

describe('eggs on the real Engine', () => {
  it('stops a ^C egg by SIGINT: the game traps it and exits cleanly, not by SIGKILL', async () => {
    // Only INT is trapped: a SIGTERM would end the shell with 143 and no "caught" line.
    const startup =
      `trap 'echo "caught SIGINT, saving"; exit 0' INT; echo "Server ready: {{env.GREETING}} {{server.build.memory}}"; ` +
      'while true; do read -t 1 line && echo "got $line"; done';
    const id = await create({
      egg: egg(
        { startup, variables: [{ env_variable: 'GREETING', default_value: 'hello', rules: 'required|alpha_dash' }] },
        { stop: '^C', startup: '{"done": "Server ready"}' },
      ),
      limits: { memory: 256 },
    });
    await start(id);
    expect(await history(id)).toContain('Server ready: hello 256');
    const { exitCode, lines } = await stop(id);
    expect(lines).toContain('caught SIGINT, saving');
    expect(lines.some((l) => l.includes('sent SIGINT'))).toBe(true);
    expect(lines.some((l) => l.includes('SIGKILL'))).toBe(false);
    expect(exitCode).toBe(0);
  });

  it('stops a command-stop egg by writing the command to stdin; running waits for the done line', async () => {
    const startup =
      'echo booting; read -t 2 warm; echo \'Done (0.1s)! For help, type "help"\'; ' +
      'while read line; do [ "$line" = stop ] && echo "saving world" && exit 0; echo "unknown: $line"; done';
    const id = await create({ egg: egg({ startup }, { stop: 'stop', startup: '{"done": ")! For help, type "}' }) });
    expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
    await waitFor(async () => (await history(id)).includes('booting'), 'the boot line');
    expect((await agent.command({ action: 'get_server_status', serverId: id })).data.status).toBe('starting');
    await waitForStatus(agent, id, 'running');
    const { exitCode, lines } = await stop(id);
    expect(lines).toContain('saving world');
    expect(lines.some((l) => l.includes('sent stop command "stop"'))).toBe(true);
    expect(exitCode).toBe(0);
  });

  it('refuses a value that breaks an egg variable rule, naming the variable; the existing spec stays', async () => {
    const rules = egg({
      startup: 'echo "jar={{SERVER_JARFILE}}"; sleep 1000',
      variables: [
        {
          name: 'Server Jar File',
          env_variable: 'SERVER_JARFILE',
          default_value: 'server.jar',
          rules: 'required|regex:/^([\\w\\d._-]+)(\\.jar)$/|int',
        },
      ],
    });
    const id = await create({ name: 'first', egg: rules });
    expect(lastCreate.data.warnings).toContain('egg variable SERVER_JARFILE: rule "int" is not checked by the agent');
    const refused = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, name: 'second', egg: rules, environment: { SERVER_JARFILE: 'server.sh' } },
    });
    expect(refused).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    expect(refused.error).toMatch(/payload\.environment\.SERVER_JARFILE: breaks the rule "regex:/);
    const hostile = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: {
        image: TEST_IMAGE,
        name: 'third',
        egg: egg({}, { files: { '../../../etc/passwd': { parser: 'file', find: { root: 'x' } } } }),
      },
    });
    expect(hostile).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    expect(hostile.error).toContain('payload.egg.config.files.../../../etc/passwd');
    const [listed] = (await agent.command({ action: 'list_servers' })).data.servers.filter(
      (s: { serverId: string }) => s.serverId === id,
    );
    expect(listed).toMatchObject({ name: 'first', status: 'offline' });
    await start(id);
    await waitFor(async () => (await history(id)).includes('jar=server.jar'), 'the default in the startup line');
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it("runs the egg's install script in its container with the egg's variables", async () => {
    const script = 'cd /mnt/server && echo "version=$GAME_VERSION" > installed.txt && echo "egg install done"';
    const id = await create({
      egg: egg({
        startup: 'cat installed.txt; sleep 1000',
        scripts: { installation: { script, container: TEST_IMAGE, entrypoint: 'sh' } },
        variables: [{ env_variable: 'GAME_VERSION', default_value: '1.2.3', rules: 'required|string|max:20' }],
      }),
    });
    expect(await history(id)).toContain('egg install done');
    await start(id);
    await waitFor(async () => (await history(id)).includes('version=1.2.3'), 'the file the install script wrote');
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('tells the user once per start when the console asks for the EULA (feature "eula")', async () => {
    const ask = 'echo "[ServerMain/WARN]: You need to agree to the EULA in order to run the server."';
    const id = await create({ egg: egg({ features: ['eula'], startup: `${ask}; ${ask}; echo bye` }) });
    const notices = async () => (await history(id)).filter((l) => l.includes(EULA_NOTICE)).length;
    for (const expected of [1, 2]) {
      expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
      await waitFor(async () => (await history(id)).filter((l) => l === 'bye').length === expected, 'the run to end');
      await waitFor(async () => (await notices()) >= expected, 'the EULA notice');
      await waitForStatus(agent, id, 'offline');
      expect(await notices()).toBe(expected);
    }
  });
});
