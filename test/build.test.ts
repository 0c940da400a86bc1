import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What `npm run build` and the image rely on, read from the files: every
 * workspace entry point resolves to its TypeScript under the "development"
 * condition (vitest, tsx) and to what `tsc -b` emits under plain node; every
 * workspace is a project `tsc -b` builds, whose references are exactly the
 * workspaces its built sources import (a new import needs its reference); the
 * supported Node.js major is the same in engines, the Dockerfile and the
 * runtime script CI sources; the image runs the build as a non-root user.
 * (.ci/run starts each built entry point under plain node after the build.)
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');
const workspaces = ['packages', 'services'].flatMap((dir) => readdirSync(`${ROOT}${dir}`).map((name) => `${dir}/${name}`));

/** The `"path"` entries of a tsconfig.json's references (JSONC: read with a pattern, not JSON.parse). */
const references = (file: string) => [...read(file).matchAll(/\{\s*"path":\s*"([^"]+)"\s*\}/g)].map((m) => m[1]!).sort();

/** The workspaces a workspace's built sources import (its tests and src/testing.ts are not built). */
function imported(workspace: string): string[] {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(`${ROOT}${dir}`, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts') && path !== `${workspace}/src/testing.ts`) {
        for (const m of read(path).matchAll(/from '@tillstream\/([a-z-]+)/g)) names.add(m[1]!);
      }
    }
  };
  walk(`${workspace}/src`);
  return [...names].map((name) => workspaces.find((w) => w.endsWith(`/${name}`))!).map((w) => relative(workspace, w)).sort();
}

describe('the build', () => {
  it('builds every workspace: the root tsconfig.json references each one', () => {
    expect(references('tsconfig.json')).toEqual([...workspaces].sort());
  });

  it.each(workspaces)('%s is a composite project that references exactly the workspaces its sources import', (workspace) => {
    expect(read(`${workspace}/tsconfig.json`)).toMatch(/"extends": "\.\.\/\.\.\/tsconfig\.base\.json"/);
    expect(references(`${workspace}/tsconfig.json`)).toEqual(imported(workspace));
  });

  it.each(workspaces)('%s exports src under "development" and dist otherwise', (workspace) => {
    const pkg = JSON.parse(read(`${workspace}/package.json`)) as { exports: Record<string, string | Record<string, string>> };
    for (const [key, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') {
        // Test helpers only (./testing): never built, never imported in production.
        expect(target, `${workspace} ${key}`).toBe('./src/testing.ts');
        continue;
      }
      const name = /^\.\/src\/(.+)\.ts$/.exec(target.development ?? '')?.[1];
      expect(name, `${workspace} ${key}: "development" first, to a src/*.ts file`).toBeDefined();
      expect(Object.keys(target), `${workspace} ${key}: condition order`).toEqual(['development', 'types', 'default']);
      expect(target).toEqual({ development: `./src/${name}.ts`, types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` });
      expect(existsSync(`${ROOT}${workspace}/src/${name}.ts`), `${workspace}/src/${name}.ts`).toBe(true);
    }
  });

  it('names one supported Node.js major in engines, the Dockerfile and scripts/node-runtime.sh', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const image = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(read('Dockerfile'))?.[1];
    const runtime = /TILLSTREAM_NODE_VERSION:-(\d+)\./.exec(read('scripts/node-runtime.sh'))?.[1];
    const floor = /TILLSTREAM_NODE_MIN_MAJOR=(\d+)/.exec(read('scripts/node-runtime.sh'))?.[1];
    expect(engines).toBe('^22.12 || >=24');
    expect(floor).toBe('22');
    expect(image).toBe(runtime);
    expect(Number(image)).toBeGreaterThanOrEqual(24);
  });

  it('ships an image that runs the build with plain node, as a non-root user, with a healthcheck', () => {
    const dockerfile = read('Dockerfile');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*CMD \["node", "healthcheck\.mjs"\]$/m);
    expect(runtime).toMatch(/^CMD \["node", "main\.js"\]$/m);
    expect(dockerfile.split('\n').filter((line) => !line.startsWith('#') && line.includes('tsx'))).toEqual([]);
    expect(dockerfile).toMatch(/npm ci --omit=dev .*--workspace "\$dir"/);
  });
});
