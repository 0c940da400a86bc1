import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = ['README.md', 'CONTRIBUTING.md', 'docs/local-infrastructure.md', 'docs/roles.md', 'docs/quarantine.md', 'docs/edge.md', 'docs/security.md', 'docs/deployment.md', 'packages/cli/README.md', ...['ingest', 'inventory', 'trends', 'sync', 'hq'].map((s) => `services/${s}/README.md`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchorsOf = (markdown: string) => new Set([...markdown.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));

// The README was split into one file per service and topic: a link into a moved section must follow it.
describe('the README and the reference beside each service', () => {
  it.for(DOCS)('%s: every relative link names a file (and heading) that exists', (doc) => {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split('#');
      const file = path ? join(ROOT, dirname(doc), path) : join(ROOT, doc);
      if (relative(ROOT, file).startsWith('..')) continue; // outside the repository (../shared): not a clone's to check
      if (!existsSync(file)) broken.push(`${target} (no ${relative(ROOT, file)})`);
      else if (anchor && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${target} (no heading #${anchor})`);
    }
    expect(broken).toEqual([]);
  });
});
