import { configDefaults, defineConfig } from 'vitest/config';

// One runner for the whole repository, two projects (`npm test` runs both):
//
// - `unit`: files named `*.unit.test.ts`. They need no Kafka, PostgreSQL or
//   Redis, so the project has no global setup and runs in seconds
//   (`npm run test:unit`). Loopback HTTP/TLS servers a test starts itself
//   are fine. The infrastructure variables point at closed ports, so a test
//   that reaches for a broker or a database fails at once instead of quietly
//   using a developer's running infrastructure.
// - `integration`: every other `*.test.ts` (unit tests beside the code that
//   need the real broker, PostgreSQL or Redis, and the black-box suites in
//   test/). Its global setup brings the infrastructure up (reusing what
//   already runs) and stops what it started.
//
// A new test is an integration test unless its name says `.unit.`: the safe
// default is the one with the infrastructure.
const roots = ['packages/*/src/**', 'services/*/src/**', 'test/**'];
const unit = roots.map((root) => `${root}/*.unit.test.ts`);

/** Where nothing listens: a unit test that opens a connection fails fast (port 1 refuses at once). */
const NO_INFRASTRUCTURE = {
  KAFKA_BROKERS: '127.0.0.1:1',
  HQ_KAFKA_BROKERS: '127.0.0.1:1',
  POSTGRES_URL: 'postgres://postgres@127.0.0.1:1/postgres',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres',
  REDIS_URL: 'redis://127.0.0.1:1',
};

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    // A deadline for a hung test, not a schedule: no test asserts how long it took.
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: unit,
          env: NO_INFRASTRUCTURE,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: roots.map((root) => `${root}/*.test.ts`),
          exclude: [...configDefaults.exclude, ...unit],
          globalSetup: ['packages/testing/src/global-setup.ts'],
          // Infrastructure start (first run: Maven download) happens in global setup;
          // individual tests wait for real brokers and databases, never sleep.
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
