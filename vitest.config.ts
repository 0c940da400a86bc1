import { defineConfig } from 'vitest/config';

// One runner for the whole repository: unit tests beside the code,
// integration tests against the real broker, PostgreSQL and Redis, and the
// black-box suites in test/. The global setup brings the infrastructure up
// (reusing what already runs) and stops what it started.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['packages/testing/src/global-setup.ts'],
    // Infrastructure start (first run: Maven download) happens in global setup;
    // individual tests wait for real brokers and databases, never sleep.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
    outputFile: undefined,
  },
});
