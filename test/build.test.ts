import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What `npm run build` and the image rely on, read from the files: every
 * workspace entry point resolves to its TypeScript under the "development"
 * condition (vitest, tsx) and to what `tsc -b` emits under plain node; the
 * supported Node.js major is the same in engines, the Dockerfile and the
 * runtime script CI sources; the image runs the build as a non-root user.
 * (.ci/run starts each built entry point under plain node after the build.)
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');
const workspaces = ['packages', 'services'].flatMap((dir) => readdirSync(`${ROOT}${dir}`).map((name) => `${dir}/${name}`));

describe('the build', () => {
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
