#!/usr/bin/env node
// In a checkout the CLI runs its TypeScript through tsx, with the workspace
// packages it imports resolved to their sources as well (their package.json
// exports' "development" condition), so nothing needs building first. The
// production image carries no sources, only what `npm run build` emitted:
// there plain node runs dist/.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { URL } from 'node:url';

const source = new URL('../src/main.ts', import.meta.url);
if (existsSync(source)) {
  register('data:text/javascript,export function resolve(specifier, context, next) { return next(specifier, { ...context, conditions: [...context.conditions, "development"] }); }');
  (await import('tsx/esm/api')).register();
  await import(source.href);
} else {
  await import('../dist/main.js');
}
