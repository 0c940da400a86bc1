// Every workspace declares what it imports: each npm package and each
// @tillstream/* workspace a file imports is in the nearest package.json
// (production code: `dependencies`; tests and test helpers: `dependencies` or
// `devDependencies`), and every path a package.json exports exists. Without
// this, npm and turbo see another graph than the code's: undeclared imports
// work by hoisting and hide cycles. The declared workspace graph must then be
// acyclic. Run by `npm run depcheck` (and so by .ci/run).
//
// No exceptions: a workspace @tillstream/testing builds on (contracts, db,
// kafka, infra, ...) cannot declare the harness without a cycle, so its tests
// that need the harness live in the black-box layer (test/packages/<name>/),
// whose package.json (the root's) declares everything they import.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, dirname } from 'node:path';
import ts from 'typescript';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const builtins = new Set(builtinModules);
const SKIP_DIRS = new Set(['node_modules', 'dist', 'coverage', 'test-output', 'public', '.turbo']);

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const packageName = (specifier) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]);
const isTestFile = (file) => /\.test\.ts$|(^|\/)(testing|global-setup)\.ts$|(^|\/)src\/testing\//.test(file);

const rootManifest = readJson(join(root, 'package.json'));
const workspaces = rootManifest.workspaces
  .flatMap((pattern) => readdirSync(join(root, pattern.replace('/*', ''))).map((name) => join(root, pattern.replace('/*', ''), name)))
  .filter((dir) => existsSync(join(dir, 'package.json')));
const manifests = new Map(workspaces.map((dir) => [dir, readJson(join(dir, 'package.json'))]));
const byName = new Map([...manifests].map(([dir, m]) => [m.name, dir]));

const problems = [];
function check(files, manifest, where, self) {
  const prod = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  const dev = new Set(Object.keys(manifest.devDependencies ?? {}));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    // `declare module 'x'` in a module augments x's types (express-serve-static-core); it imports nothing.
    const augmented = new Set([...text.matchAll(/declare module ['"]([^'"]+)['"]/g)].map((m) => m[1]));
    for (const { fileName: specifier } of importedFiles) {
      if (augmented.has(specifier)) continue;
      if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || builtins.has(specifier)) continue;
      const name = packageName(specifier);
      if (name === self) continue;
      const rel = relative(root, file);
      const test = where === 'root' || isTestFile(rel);
      if (prod.has(name) || (test && dev.has(name))) continue;
      problems.push(`${rel}: imports ${name}, which ${where === 'root' ? 'the root package.json' : `${self}'s package.json`} does not declare${test ? '' : ' in dependencies'}`);
    }
  }
}

for (const [dir, manifest] of manifests) {
  check(sourceFiles(dir), manifest, 'workspace', manifest.name);
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    const targets = typeof target === 'string' ? [target] : Object.values(target);
    for (const t of targets) if (!existsSync(join(dir, t))) problems.push(`${relative(root, dir)}/package.json: exports "${subpath}" -> ${t}, which does not exist`);
  }
}
const rootFiles = [
  ...['test', 'bench', 'scripts'].filter((d) => existsSync(join(root, d)) && statSync(join(root, d)).isDirectory()).flatMap((d) => sourceFiles(join(root, d))),
  ...readdirSync(root).filter((f) => /\.(ts|js|mjs|cjs)$/.test(f)).map((f) => join(root, f)),
];
check(rootFiles, rootManifest, 'root', rootManifest.name);

// The declared workspace graph has no cycle (dependencies and devDependencies:
// npm and turbo order by both); with every import declared, it is the code's graph.
const graph = new Map(
  [...manifests.values()].map((m) => [m.name, Object.keys({ ...m.dependencies, ...m.devDependencies }).filter((d) => byName.has(d))]),
);
const state = new Map();
function visit(name, path) {
  if (state.get(name) === 'done') return;
  if (state.get(name) === 'open') {
    problems.push(`workspace cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
    return;
  }
  state.set(name, 'open');
  for (const dep of graph.get(name) ?? []) visit(dep, [...path, name]);
  state.set(name, 'done');
}
for (const name of graph.keys()) visit(name, []);

if (problems.length > 0) {
  console.error(`${problems.length} undeclared imports, missing exports or workspace cycles:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`workspace dependencies: ${manifests.size + 1} package.json files declare every import`);
