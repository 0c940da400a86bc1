/**
 * The architecture, enforced (`npm run depcheck`, run by .ci/run).
 *
 * Dependencies flow one way: services -> packages; services never import each
 * other (they talk through Kafka, HTTP or Redis); packages never import a
 * service. `test/` and `bench/` are the black-box layer across services and may
 * import any of them. Every workspace declares in its own package.json each
 * package its source imports (tests included, as devDependencies), so turbo and
 * npm see the real graph and no cycle hides behind an undeclared import: that
 * is scripts/check-workspace-deps.js, which `npm run depcheck` runs too.
 *
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A runtime cycle between modules makes load order undefined. A cycle closed only by `import type` is erased at compile time and allowed.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-service-to-service',
      severity: 'error',
      comment: 'Services never import each other: they talk through Kafka, HTTP or Redis. Shared code belongs in packages/.',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'no-package-to-service',
      severity: 'error',
      comment: 'Packages are libraries under the services; a package importing a service inverts the graph.',
      from: { path: '^packages/' },
      to: { path: '^services/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve (a phantom export, a typo).',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|coverage|test-output)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['development', 'import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
