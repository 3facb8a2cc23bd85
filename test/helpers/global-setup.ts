import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { runPrefix, TEST_AGENT_PREFIX } from './constants.js';
import { LABEL_AGENT_ID, LABEL_MANAGED } from './labels.js';
import { ensureSteamcmdImage } from './steamcmd-image.mjs';
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

/** Containers left by an earlier run count as stale after this long (a run that was killed has no teardown). */
const STALE_AFTER_S = 3 * 3600;

async function removeTestContainers(docker: Docker, which: (agentId: string, createdS: number) => boolean) {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`] } });
  await Promise.all(
    list
      .filter((c) => which(c.Labels[LABEL_AGENT_ID] ?? '', c.Created))
      .map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
  );
}

export async function setup(): Promise<void> {
  // Inherited by the test workers (forked after global setup): this run's containers carry it in their agent id.
  process.env.CAP_TEST_RUN ??= randomBytes(4).toString('hex');
  const docker = new Docker();
  await assertDocker(docker);
  const now = Date.now() / 1000;
  await removeTestContainers(
    docker,
    (id, created) => id.startsWith(TEST_AGENT_PREFIX) && now - created > STALE_AFTER_S,
  );
  await ensureTestImage(docker);
  await ensureSteamcmdImage(docker);
}

export async function teardown(): Promise<void> {
  await removeTestContainers(new Docker(), (id) => id.startsWith(runPrefix()));
}
