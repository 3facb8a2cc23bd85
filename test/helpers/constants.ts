/** The locally built image every test uses (there is no registry here). Built once per run by global-setup. */
export { TEST_IMAGE } from './test-image.mjs';
/** Agent ids used by tests start with this, so global teardown can find and remove their containers. */
export const TEST_AGENT_PREFIX = 'agt_test_';

/**
 * One vitest run's part of the prefix: global setup sets it before the workers start, so a run's teardown removes
 * its own containers and never those of another run going on beside it (two engineers, or a bench and a test).
 */
export function runPrefix(): string {
  return `${TEST_AGENT_PREFIX}${process.env.CAP_TEST_RUN ?? 'x'}_`;
}
