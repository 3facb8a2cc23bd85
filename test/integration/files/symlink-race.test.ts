import { existsSync, readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../../helpers/agent.js';
import { TEST_IMAGE } from '../../helpers/constants.js';

let agent: TestAgent;
let id: string;
const HOST_PASSWD = readFileSync('/etc/passwd', 'utf8');
const HOST_PASSWD_MODE = statSync('/etc/passwd').mode;
const MARKER = `cap-race-${uuid()}`;

beforeAll(async () => {
  agent = await startTestAgent();
  id = uuid();
  // The game flips `evil` between a link to the host-looking /etc and a link to a harmless directory every few
  // milliseconds, while the agent works through `evil/…`. `rm -rf`: a write that lands in the gap between two
  // links creates `evil` as a real directory (mkdir -p of the parent, as it should), which would end the race.
  const startup = `sh -c 'cd /home/container; mkdir -p real; echo safe > real/passwd; while true; do rm -rf evil; ln -s /etc evil; usleep 3000; rm -rf evil; ln -s real evil; usleep 3000; done'`;
  await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup } });
  await waitForStatus(agent, id, 'offline');
  await agent.command({ action: 'start_server', serverId: id });
  await waitForStatus(agent, id, 'running');
  await waitFor(
    async () =>
      (await agent.command({ action: 'list_files', serverId: id, payload: { path: '/' } })).data.files.length >= 2,
    'the game to plant its links',
  );
});

afterAll(async () => {
  await agent.command({ action: 'kill_server', serverId: id });
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

describe('a game server racing symlinks against the agent', () => {
  it('never lets a read, write, list or chmod through a link reach the host', async () => {
    const outcomes = new Map<string, number>();
    const note = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    // At least 300 rounds, and on until both sides of the race have been met (bounded: a loaded machine may need
    // more rounds to land inside a 3 ms window). The swaps themselves happen at any moment of an operation.
    const deadline = Date.now() + 20_000;
    const met = () =>
      (outcomes.get('read-inside') ?? 0) > 0 &&
      [...outcomes.keys()].some((k) => k.startsWith('read-') && k !== 'read-inside');
    for (let i = 0; i < 300 || (!met() && Date.now() < deadline); i++) {
      const read = await agent.command({ action: 'read_file', serverId: id, payload: { path: 'evil/passwd' } });
      if (read.success) {
        expect(read.data.content).toBe('safe\n');
        expect(read.data.content).not.toBe(HOST_PASSWD);
        note('read-inside');
      } else note(`read-${read.code}`);
      const write = await agent.command({
        action: 'write_file',
        serverId: id,
        payload: { path: `evil/${MARKER}`, content: 'x' },
      });
      note(write.success ? 'write-inside' : `write-${write.code}`);
      const list = await agent.command({ action: 'list_files', serverId: id, payload: { path: 'evil' } });
      if (list.success) {
        // Only the harmless directory's content; a link found inside it must show as broken, never be followed.
        for (const f of list.data.files) {
          if (f.symlink) expect(f).toMatchObject({ broken: true, type: 'file', size: 0 });
          else expect(['passwd', MARKER]).toContain(f.name);
        }
      }
      await agent.command({
        action: 'set_file_permissions',
        serverId: id,
        payload: { path: 'evil/passwd', mode: '600' },
      });
    }
    expect(existsSync(`/etc/${MARKER}`)).toBe(false);
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(HOST_PASSWD);
    expect(statSync('/etc/passwd').mode).toBe(HOST_PASSWD_MODE);
    // Both sides of the race were actually met.
    const refusals = [...outcomes.keys()].filter((k) => k.startsWith('read-') && k !== 'read-inside');
    expect(outcomes.get('read-inside') ?? 0).toBeGreaterThan(0);
    expect(refusals.length).toBeGreaterThan(0);
    // Refusals name what the agent met: a link leaving the jail, or the path missing or changed mid-resolution.
    for (const code of refusals) {
      expect(['read-PATH_OUTSIDE_ROOT', 'read-FILE_NOT_FOUND', 'read-NOT_A_DIRECTORY']).toContain(code);
    }
  });
});
