import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildContainerOptions,
  type ContainerOptionsInput,
  shellStartup,
} from '../../../src/docker/container-options.js';

const input: ContainerOptionsInput = {
  name: 'ctrl-alt-play-abc',
  image: 'img',
  labels: { 'ctrl-alt-play.managed': 'true' },
  environment: { A: '1' },
  startup: 'java -jar server.jar',
  imageHasEntrypoint: false,
  limits: { memory: 256, cpu: 100, swap: 0, io: 500 },
  ports: [],
  dataDir: '/data/volumes/abc',
  network: 'ctrl-alt-play',
  user: '988:988',
  pidsLimit: 512,
  tmpSizeMb: 64,
  init: false,
  hostHasIoWeight: true,
  defaultIp: '0.0.0.0',
};

const TRAP = "trap 'exit $?' TERM INT QUIT HUP USR1 USR2 ABRT";

describe('container options', () => {
  it('runs the startup line as a shell command line, unprefixed, after the stop-signal trap', () => {
    const o = buildContainerOptions(input);
    expect(o.Cmd).toEqual(['/bin/sh', '-c', `${TRAP}\njava -jar server.jar`]);
    expect(o.WorkingDir).toBe('/home/container');
    expect(o.Tty).toBe(true);
    expect(o.OpenStdin).toBe(true);
    expect(o.User).toBe('988:988');
  });

  it('runs a shell line under the init in process-group mode even when servers.init is off', () => {
    const o = buildContainerOptions({ ...input, init: false, startup: 'cd sub && ./server; echo done' });
    expect(o.HostConfig?.Init).toBe(true);
    expect(o.Env).toContain('TINI_KILL_PROCESS_GROUP=1');
    expect(o.Env).toContain('A=1');
  });

  it('sets process-group mode once and last, whatever the user environment holds', () => {
    const o = buildContainerOptions({ ...input, environment: { TINI_KILL_PROCESS_GROUP: '', B: '2' } });
    expect(o.Env?.filter((e) => e.startsWith('TINI_KILL_PROCESS_GROUP='))).toEqual(['TINI_KILL_PROCESS_GROUP=1']);
    expect(o.Env).toContain('B=2');
  });

  it.each([true, false])('keeps the image entrypoint and command; Init follows servers.init (%s)', (init) => {
    const o = buildContainerOptions({ ...input, imageHasEntrypoint: true, init });
    expect(o.Cmd).toBeUndefined();
    expect(o.Entrypoint).toBeUndefined();
    expect(o.HostConfig?.Init).toBe(init);
    expect(o.Env).toEqual(['A=1']);
  });

  it.each(['', '   '])('uses the image command for an empty line %j; Init follows servers.init', (startup) => {
    for (const init of [true, false]) {
      const o = buildContainerOptions({ ...input, startup, init });
      expect(o.Cmd).toBeUndefined();
      expect(o.HostConfig?.Init).toBe(init);
      expect(o.Env).toEqual(['A=1']);
    }
  });

  it('passes any line through verbatim after the trap line (no exec prefix, no rewriting)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }).filter((s) => s.trim() !== ''),
        (startup) => {
          const cmd = buildContainerOptions({ ...input, startup }).Cmd;
          expect(cmd).toEqual(['/bin/sh', '-c', `${TRAP}\n${startup}`]);
        },
      ),
    );
  });

  it('isolates the container', () => {
    const h = buildContainerOptions(input).HostConfig ?? {};
    expect(h.Privileged).toBe(false);
    expect(h.SecurityOpt).toEqual(['no-new-privileges']);
    expect(h.CapDrop).toEqual(['ALL']);
    expect(h.CapAdd).not.toContain('SYS_ADMIN');
    expect(h.CapAdd).not.toContain('NET_RAW');
    expect(h.PidsLimit).toBe(512);
    expect(h.Tmpfs?.['/tmp']).toContain('size=64m');
    expect(h.RestartPolicy).toEqual({ Name: 'no' });
    expect(h.NetworkMode).toBe('ctrl-alt-play');
    expect(h.Binds).toEqual(['/data/volumes/abc:/home/container']);
  });
});

/**
 * The wrapper's behaviour in the shells that images without an ENTRYPOINT bring as /bin/sh (dash on
 * Debian/Ubuntu, bash elsewhere, busybox ash on Alpine), with the signal sent to the whole process group as
 * tini -g does. No Docker needed; the integration test covers the same inside a container.
 */
const CANDIDATES: { name: string; paths: string[]; args: string[] }[] = [
  { name: 'dash', paths: ['/usr/bin/dash', '/bin/dash'], args: [] },
  { name: 'bash', paths: ['/usr/bin/bash', '/bin/bash'], args: [] },
  { name: 'busybox sh', paths: ['/usr/bin/busybox', '/bin/busybox'], args: ['sh'] },
];
const shells = CANDIDATES.flatMap(({ name, paths, args }): [string, string[]][] => {
  const bin = paths.find((p) => existsSync(p));
  return bin ? [[name, [bin, ...args]]] : [];
});

/** Runs shellStartup(line) in `shell` as a new process group, signals the group once `ready` is printed. */
function runAndSignal(shell: string[], line: string, signal: NodeJS.Signals) {
  const [bin = '', ...pre] = shell;
  const [, flag = '', script = ''] = shellStartup(line);
  const child = spawn(bin, [...pre, flag, script], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let signalled = false;
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    child.on('error', reject);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!signalled && out.includes('ready\n')) {
        signalled = true;
        process.kill(-(child.pid ?? 0), signal);
      }
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe.each(shells)('the startup wrapper in %s', (_name, shell) => {
  const shellName = shell.join(' ');
  // The game is a child shell with its own save handler; `; echo after` keeps the outer shell as its parent.
  const game = (sig: string) =>
    `${shellName} -c 'trap "echo saving; sleep 0.3; echo saved; exit 0" ${sig}; echo ready; while :; do sleep 1; done'`;

  it.each(['TERM', 'INT'])('outlives a game that saves on SIG%s and exits with its status', async (sig) => {
    const { code, out } = await runAndSignal(shell, `cd / && ${game(sig)}; echo after`, `SIG${sig}` as NodeJS.Signals);
    expect(out).toContain('saved\n');
    expect(out).not.toContain('after');
    expect(code).toBe(0);
  });

  it("runs the line's own trap instead of the wrapper's", async () => {
    const line = `trap 'echo handler; exit 7' TERM; echo ready; while :; do sleep 1; done`;
    const { code, out } = await runAndSignal(shell, line, 'SIGTERM');
    expect(out).toContain('handler\n');
    expect(code).toBe(7);
  });

  // The signal lands in `sleep` (it dies: 143) or between two builtins (the trap exits with the last one's 0).
  it('ends a line whose only processes are the shell and sleep, without waiting for anything', async () => {
    const { code } = await runAndSignal(shell, 'echo ready; while :; do sleep 1; done', 'SIGTERM');
    expect([0, 143]).toContain(code);
  });
});
