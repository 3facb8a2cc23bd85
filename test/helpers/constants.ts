/** The locally built image every test uses (there is no registry here). Built once per run by global-setup. */
export { TEST_IMAGE } from './test-image.mjs';
/** Agent ids used by tests start with this, so global teardown can find and remove their containers. */
export const TEST_AGENT_PREFIX = 'agt_test_';
