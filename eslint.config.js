// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** The infrastructure clients and the one package that may import each. */
const CLIENTS = {
  kafkajs: 'Use @tillstream/kafka: it is the only place that imports kafkajs.',
  ioredis: 'Use @tillstream/queue (createRedis): it is the only place that imports ioredis.',
  bullmq: 'Use @tillstream/queue (TypedQueue, createTypedWorker): it is the only place that imports bullmq.',
  pg: 'Use @tillstream/db (createPool, createClient): it is the only place that imports pg.',
};

/** no-restricted-imports' paths: every client but those `allowed` here. */
function restrictedClients(...allowed) {
  return Object.entries(CLIENTS)
    .filter(([name]) => !allowed.includes(name))
    .map(([name, message]) => ({ name, message }));
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.turbo/**', 'test-output/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // Handlers implement async interfaces; an async function without await is fine there.
      '@typescript-eslint/require-await': 'off',
      // Errors are wrapped in TillstreamError; rejecting with a non-Error loses the stack.
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // Architecture: each infrastructure client is imported in one package, so its defaults
      // live in one factory and the client can be swapped in one place. kafkajs (unmaintained
      // upstream) only in packages/kafka; ioredis and bullmq only in packages/queue; pg only in packages/db.
      'no-restricted-imports': ['error', { paths: restrictedClients() }],
      // Architecture: only a service's env.ts (and entry points) read the environment; packages take options.
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment in env.ts and pass options.' }],
    },
  },
  {
    files: ['packages/kafka/src/**'],
    rules: { 'no-restricted-imports': ['error', { paths: restrictedClients('kafkajs') }] },
  },
  {
    files: ['packages/queue/src/**'],
    rules: { 'no-restricted-imports': ['error', { paths: restrictedClients('ioredis', 'bullmq') }] },
  },
  {
    files: ['packages/db/src/**'],
    rules: { 'no-restricted-imports': ['error', { paths: restrictedClients('pg') }] },
  },
  {
    files: ['**/env.ts', '**/main.ts', '**/cli.ts', '**/*.test.ts', '**/global-setup.ts', 'packages/infra/src/children.ts', 'packages/testing/src/browser.ts', 'vitest.config.ts', 'bench/**', 'test/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.test.ts', 'test/**', 'bench/**'],
    rules: {
      // Tests reach into results with ! after asserting them.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Node scripts and tool configs (dependency-cruiser's is CommonJS).
    files: ['scripts/**/*.js', '**/*.cjs'],
    languageOptions: { globals: globals.node },
  },
  {
    // The dashboards' browser scripts: plain scripts sharing globals (Chart.js, live.js's Live), no build step.
    files: ['packages/dashboard/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, Chart: 'readonly', Live: 'writable' } },
  },
);
