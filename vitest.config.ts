import { defineConfig } from 'vitest/config';

/**
 * Three projects: `unit` needs no Docker (npm run test:unit runs it alone, fast); `integration` and `e2e` run
 * against the real Engine, and their global setup fails loudly when it is unreachable instead of skipping.
 */
const shared = { testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // Two cores: run files in parallel processes, but no more than the machine can carry with Docker busy.
    pool: 'forks',
    maxWorkers: 3,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
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
