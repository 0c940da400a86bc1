import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, HTTP_PROBLEMS, PIPELINE_ERRORS, TillstreamError, isErrorCode } from './errors.ts';

const doc = readFileSync(new URL('../../../docs/problems.md', import.meta.url), 'utf8');
/** Every `CODE` that starts a table row of the page. */
const documented = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);

describe('the error-code registry', () => {
  it('documents every HTTP problem in docs/problems.md with its status', () => {
    const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows.sort()).toEqual(Object.entries(HTTP_PROBLEMS).map(([code, { status }]) => [code, status]).sort());
  });

  it('documents every pipeline error in docs/problems.md with its retriable flag', () => {
    const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| (yes|no) \|/gm)].map((m) => [m[1], m[2] === 'yes']);
    expect(rows.sort()).toEqual(Object.entries(PIPELINE_ERRORS).map(([code, { retriable }]) => [code, retriable]).sort());
  });

  it('has every code the page documents, and the page each code once', () => {
    expect(documented.filter((code) => !isErrorCode(code))).toEqual([]);
    expect(documented.length).toBe(new Set(documented).size);
    expect(new Set(documented)).toEqual(new Set(Object.keys(ERROR_CODES)));
  });

  it('marks an HTTP problem retriable as the page says: 5xx, 409 and 429, no other', () => {
    expect(doc).toContain('when its status is 5xx, 409 or\n429');
    for (const [code, { status, retriable }] of Object.entries(HTTP_PROBLEMS)) expect(retriable, code).toBe(status >= 500 || status === 409 || status === 429);
  });

  it("gives a TillstreamError its code's retriable flag unless the thrower says otherwise", () => {
    expect(new TillstreamError('DATABASE_UNAVAILABLE', 'down').retriable).toBe(true);
    expect(new TillstreamError('EVENT_INVALID', 'bad').retriable).toBe(false);
    expect(new TillstreamError('DATABASE_ERROR', 'x', { retriable: true }).retriable).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });
});
