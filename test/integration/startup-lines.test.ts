import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { labelFilter } from '../helpers/labels.js';

/**
 * Startup lines are shell command lines (PROTOCOL.md §4.1, issue 11): compound lines run, and the stop signal
 * reaches the game whether the line is one command or many. The agent runs with the default config
 * (`servers.init` off), because a shell-line startup must not depend on it.
 */

const docker = new Docker();
let agent: TestAgent;

/** Well above what any of these stops needs, so reaching it (then SIGKILL, exit 137) is a failure, not a race. */
const STOP_TIMEOUT_S = 30;

beforeAll(async () => {
  agent = await startTestAgent();
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

async function history(id: string): Promise<string[]> {
  return (await agent.command({ action: 'console:history', serverId: id })).data.history;
}

function waitForLine(id: string, line: string) {
  return waitFor(async () => (await history(id)).includes(line), `console line ${JSON.stringify(line)}`);
}

/** Creates and starts a server, and waits until the line has printed `ready` (its traps are set by then). */
async function startLine(startup: string, ready: string | null = 'ready'): Promise<string> {
  const id = uuid();
  const created = await agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: TEST_IMAGE, startup },
  });
  expect(created).toMatchObject({ success: true });
  await waitForStatus(agent, id, 'offline');
  expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
  await waitForStatus(agent, id, 'running');
  if (ready) await waitForLine(id, ready);
  return id;
}

/** A graceful stop; resolves with the settled status and how long the stop took. */
async function stop(id: string, signal = 'SIGTERM') {
  const t0 = Date.now();
  const r = await agent.command({ action: 'stop_server', serverId: id, payload: { signal, timeout: STOP_TIMEOUT_S } });
  expect(r).toMatchObject({ success: true, data: { status: 'stopping' } });
  const done = await waitForStatus(agent, id, 'offline', (STOP_TIMEOUT_S + 15) * 1000);
  const lines = await history(id);
  return { status: done?.data, elapsedMs: Date.now() - t0, lines };
}

function escalated(lines: string[]): boolean {
  return lines.some((l) => l.includes('sending SIGKILL'));
}

describe('compound startup lines', () => {
  it('runs a line that cds and traps TERM: the handler runs and the stop ends with its exit code, not SIGKILL', async () => {
    const id = await startLine(
      `mkdir -p sub && cd sub && trap 'echo saved-in:$(basename "$PWD"); exit 0' TERM; echo ready; while true; do sleep 1; done`,
    );
    const { status, elapsedMs, lines } = await stop(id);
    expect(lines).toContain('saved-in:sub');
    expect(status.exitCode).toBe(0);
    expect(escalated(lines)).toBe(false);
    expect(elapsedMs).toBeLessThan(STOP_TIMEOUT_S * 1000);
    // The shell line runs under Docker's init in process-group mode, whatever `servers.init` says.
    const [c] = await docker.listContainers({
      all: true,
      filters: { label: labelFilter(agent.agentId, id) },
    });
    const info = await docker.getContainer(c?.Id ?? 'missing').inspect();
    expect(info.HostConfig.Init).toBe(true);
    expect(info.Config.Env).toContain('TINI_KILL_PROCESS_GROUP=1');
  });

  it('runs a line with ;, &&, ||, a pipe and if … fi', async () => {
    const id = await startLine(
      'if [ -d /home/container ]; then echo in-if; fi; false || echo or-ran; cd /tmp && echo "cwd:$PWD"; ' +
        'echo abc | tr a x; echo ready; while true; do sleep 1; done',
    );
    const lines = await history(id);
    for (const expected of ['in-if', 'or-ran', 'cwd:/tmp', 'xbc']) expect(lines).toContain(expected);
    expect((await agent.command({ action: 'get_server_status', serverId: id })).data.status).toBe('running');
    const { status, lines: after } = await stop(id);
    // The group signal ends `sleep` (143), or lands between builtins and the wrapper's trap exits with 0.
    expect([0, 143]).toContain(status.exitCode);
    expect(escalated(after)).toBe(false);
  });

  it('delivers console commands to a compound line that reads stdin', async () => {
    const id = await startLine('cd /home/container && echo ready; while read l; do echo "got:$l"; done');
    const sent = await agent.command({ action: 'console:command', serverId: id, payload: { command: 'hello there' } });
    expect(sent).toEqual({ success: true, data: { sent: true } });
    await waitForLine(id, 'got:hello there');
    const { status, lines } = await stop(id);
    expect(escalated(lines)).toBe(false);
    expect(status.exitCode).not.toBe(137);
  });

  // A game that saves on its stop signal, behind a shell that still has work after it (`; echo after`): the
  // shell must outlive the game's save, or the init exits with the shell and the Engine kills the game mid-save.
  it.each(['SIGTERM', 'SIGINT'])(
    'lets a game that saves on %s finish its save behind a shell that stays',
    async (sig) => {
      const name = sig.slice(3);
      const game = `sh -c 'trap "echo game-saving; sleep 1; echo game-saved; exit 0" ${name}; echo ready; while true; do sleep 1; done'`;
      const id = await startLine(`cd /home/container && ${game}; echo after`);
      const { status, elapsedMs, lines } = await stop(id, sig);
      expect(lines).toContain('game-saving');
      expect(lines).toContain('game-saved');
      expect(status.exitCode).toBe(0);
      expect(escalated(lines)).toBe(false);
      expect(elapsedMs).toBeLessThan(STOP_TIMEOUT_S * 1000);
    },
  );
});

describe('single-command startup lines', () => {
  it('stops a simple command gracefully: sleep ends on SIGTERM, no SIGKILL', async () => {
    const id = await startLine('sleep 1000', null);
    const { status, elapsedMs, lines } = await stop(id);
    // 143 from sleep; 0 only if the stop lands between the trap and the fork of sleep (the trap's own status).
    expect([0, 143]).toContain(status.exitCode);
    expect(escalated(lines)).toBe(false);
    expect(elapsedMs).toBeLessThan(STOP_TIMEOUT_S * 1000);
  });
});
