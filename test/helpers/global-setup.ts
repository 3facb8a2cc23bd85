import Docker from 'dockerode';
import { TEST_AGENT_PREFIX } from './constants.js';
import { ensureTestImage } from './test-image.mjs';

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
  await ensureTestImage(docker);
}

export async function teardown(): Promise<void> {
  await removeTestContainers(new Docker());
}
