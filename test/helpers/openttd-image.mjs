// A real dedicated game server for the game-query tests: OpenTTD from Debian's `openttd` and `openttd-opengfx`
// packages (installed on the host by .ci/run), imported as an image with the binary, the shared libraries ldd
// names, its data files and a static busybox for the startup shell. There is no registry here, and a Dockerfile
// build would need one for a base image; `docker import` of a root filesystem does not (as test-image.mjs does).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const OPENTTD_IMAGE = 'ctrl-alt-play-test/openttd:latest';
export const OPENTTD_BINARY = '/usr/games/openttd';
const DATA_DIR = '/usr/share/games/openttd';
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** Why the image cannot be built on this machine, or undefined when it can. */
export function openttdMissing() {
  if (!existsSync(OPENTTD_BINARY)) return `${OPENTTD_BINARY} not found: apt-get install openttd openttd-opengfx`;
  if (!existsSync(path.join(DATA_DIR, 'baseset', 'opengfx')))
    return 'OpenGFX base graphics not found: apt-get install openttd-opengfx';
  if (!BUSYBOX_CANDIDATES.some((p) => existsSync(p))) return 'static busybox not found: apt-get install busybox-static';
  return undefined;
}

/** The shared libraries (and the loader) the binary needs, as ldd resolves them on this host. */
async function sharedLibraries(binary) {
  const { stdout } = await run('ldd', [binary]);
  const libs = new Set();
  for (const line of stdout.split('\n')) {
    const match = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)/);
    if (match?.[1]) libs.add(match[1]);
  }
  return [...libs];
}

/** Builds OPENTTD_IMAGE unless the Engine already has it. */
export async function ensureOpenttdImage(docker) {
  const images = await docker.listImages({ filters: { reference: [OPENTTD_IMAGE] } });
  if (images.length > 0) return;
  const missing = openttdMissing();
  if (missing) throw new Error(missing);
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p));
  const root = await mkdtemp(path.join(tmpdir(), 'cap-openttd-'));
  try {
    for (const dir of ['bin', 'tmp', 'etc', 'home/container', 'usr/games'])
      await mkdir(path.join(root, dir), { recursive: true });
    await copyFile(busybox, path.join(root, 'bin/busybox'));
    const { stdout } = await run(busybox, ['--list']);
    for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
      await symlink('busybox', path.join(root, 'bin', applet)).catch(() => undefined);
    }
    await copyFile(OPENTTD_BINARY, path.join(root, OPENTTD_BINARY));
    // Each library at the path ldd found it, with the link resolved (copyFile follows symlinks).
    for (const lib of await sharedLibraries(OPENTTD_BINARY)) {
      await mkdir(path.join(root, path.dirname(lib)), { recursive: true });
      await copyFile(lib, path.join(root, lib));
    }
    await cp(DATA_DIR, path.join(root, DATA_DIR), { recursive: true, dereference: true });
    await writeFile(
      path.join(root, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\ncontainer:x:988:988::/home/container:/bin/sh\n',
    );
    await writeFile(path.join(root, 'etc/group'), 'root:x:0:\ncontainer:x:988:\n');
    await run('sh', [
      '-c',
      `tar -C '${root}' -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin:/usr/games' -c 'ENV HOME=/home/container' - ${OPENTTD_IMAGE}`,
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
