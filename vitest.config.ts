import { defineConfig } from 'vitest/config';

/**
 * Three projects: `unit` (with `unit-isolated`) needs no Docker (npm run test:unit runs them alone, fast);
 * `integration` and `e2e` run against the real Engine, and their global setup fails loudly when it is
 * unreachable instead of skipping.
 */
const shared = { testTimeout: 60_000, hookTimeout: 60_000 };
/** Unit tests that change process-wide state (loader hooks): each runs in a fresh module graph. */
const ISOLATED = ['test/unit/metrics/gamedig-query.test.ts'];

export default defineConfig({
  test: {
    // Two cores: run files in parallel processes, but no more than the machine can carry with Docker busy.
    pool: 'forks',
    maxWorkers: 3,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      // Files share a worker's module cache: importing the agent's modules afresh for every file was 40 of the
      // 53 s the unit tests took. A file that hooks the module loader runs alone in `unit-isolated`.
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
      { test: { ...shared, name: 'unit-isolated', include: ISOLATED } },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
    ],
  },
});
