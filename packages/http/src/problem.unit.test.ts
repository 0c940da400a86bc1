import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBLEMS, type ProblemCode } from './problem.ts';

const doc = readFileSync(new URL('../../../docs/problems.md', import.meta.url), 'utf8');

describe('problem catalog', () => {
  it('is documented in docs/problems.md, code by code with its status, and nothing else is', () => {
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    const catalog = (Object.keys(PROBLEMS) as ProblemCode[]).map((code) => [code, PROBLEMS[code].status]);
    expect(rows.sort()).toEqual(catalog.sort());
  });

  it('never answers a client mistake with a 5xx', () => {
    const serverSide = new Set(['INTERNAL', 'BROKER_UNAVAILABLE', 'DATABASE_UNAVAILABLE', 'OVERLOADED', 'UPSTREAM_UNAVAILABLE']);
    for (const [code, { status }] of Object.entries(PROBLEMS)) expect(status >= 500).toBe(serverSide.has(code));
  });
});
