// The tests' and benchmarks' only image: a static busybox with every applet linked, imported from a tar of its
// root filesystem (there is no registry here). Plain JavaScript so bench scripts can use it without a build.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TEST_IMAGE = 'ctrl-alt-play-test/busybox:latest';
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/**
 * A busybox root filesystem in `root` (every applet linked in /bin, root and the yolks "container" user), the base
 * of the test images (this one, steamcmd-image.mjs).
 */
export async function busyboxRoot(root) {
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p));
  if (!busybox) throw new Error('static busybox not found: apt-get install busybox-static');
  for (const dir of ['bin', 'tmp', 'etc', 'home/container']) await mkdir(path.join(root, dir), { recursive: true });
  await copyFile(busybox, path.join(root, 'bin/busybox'));
  const { stdout } = await run(busybox, ['--list']);
  for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
    await symlink('busybox', path.join(root, 'bin', applet)).catch(() => undefined);
  }
  await writeFile(
    path.join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\ncontainer:x:988:988::/home/container:/bin/sh\n',
  );
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\ncontainer:x:988:\n');
}

/** Builds TEST_IMAGE unless the Engine already has it. */
export async function ensureTestImage(docker) {
  const images = await docker.listImages({ filters: { reference: [TEST_IMAGE] } });
  if (images.length > 0) return;
  const root = await mkdtemp(path.join(tmpdir(), 'cap-image-'));
  try {
    await busyboxRoot(root);
    await run('sh', [
      '-c',
      `tar -C '${root}' -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - ${TEST_IMAGE}`,
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
