import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { TEST_AGENT_PREFIX, TEST_IMAGE } from './constants.js';

const run = promisify(execFile);

/** Integration tests need the real Engine: fail loudly, never skip silently. */
async function assertDocker(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(
      `Docker Engine is not reachable (${(err as Error).message}). The integration and end-to-end tests run ` +
        'against a real Engine: install docker.io and start dockerd (see README "Prerequisites").',
    );
  }
}

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** A tiny image: a static busybox with every applet linked, imported from a tar of its root filesystem. */
async function buildTestImage(docker: Docker): Promise<void> {
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p));
  if (!busybox) throw new Error('static busybox not found: apt-get install busybox-static');
  const root = await mkdtemp(path.join(tmpdir(), 'cap-image-'));
  try {
    await mkdir(path.join(root, 'bin'), { recursive: true });
    for (const dir of ['tmp', 'etc', 'home/container']) await mkdir(path.join(root, dir), { recursive: true });
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
    await run('sh', [
      '-c',
      `tar -C '${root}' -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - ${TEST_IMAGE}`,
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  void docker;
}

async function removeTestContainers(docker: Docker): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: ['ctrl-alt-play.managed=true'] } });
  await Promise.all(
    list
      .filter((c) => c.Labels['ctrl-alt-play.agent-id']?.startsWith(TEST_AGENT_PREFIX))
      .map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
  );
}

export async function setup(): Promise<void> {
  const docker = new Docker();
  await assertDocker(docker);
  await removeTestContainers(docker);
  const images = await docker.listImages({ filters: { reference: [TEST_IMAGE] } });
  if (images.length === 0) await buildTestImage(docker);
}

export async function teardown(): Promise<void> {
  await removeTestContainers(new Docker());
}
