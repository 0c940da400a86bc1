import { describe, expect, it } from 'vitest';
import { testDatabase } from '@tillstream/testing';
import { numberArray, textArray } from '@tillstream/db';

describe('array parameters built in one pass', () => {
  it('PostgreSQL reads back every text element as given, quotes, backslashes, braces, commas, blanks and the word NULL included', async () => {
    const db = await testDatabase({ target: 'store' });
    const values = ['plain', '', ' padded ', 'a,b', '{braces}', 'NULL', 'null', 'quote "inside"', 'back\\slash', '\\"both\\"', 'tab\there', 'line\nbreak', 'é 😀', null, 'x'.repeat(2000)];
    const { rows } = await db.pool.query<{ v: string | null; n: string }>('SELECT v, n FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n', [textArray(values)]);
    expect(rows.map((r) => r.v)).toEqual(values);
    // Other types written as text: what a uuid[], date[] or timestamp[] parameter gets.
    const typed = await db.pool.query<{ u: string[]; d: string }>(`SELECT $1::uuid[]::text[] AS u, $2::date[]::text AS d`, [textArray(['6f1b2c1e-0000-4000-8000-000000000001', null]), textArray(['2026-03-01', '2026-12-31'])]);
    expect(typed.rows[0]).toEqual({ u: ['6f1b2c1e-0000-4000-8000-000000000001', null], d: '{2026-03-01,2026-12-31}' });
    expect((await db.pool.query<{ n: number }>('SELECT cardinality($1::text[]) AS n', [textArray([])])).rows[0]).toEqual({ n: 0 });
  });

  it('PostgreSQL reads back numbers and numeric text exactly', async () => {
    const db = await testDatabase({ target: 'store' });
    const { rows } = await db.pool.query<{ b: string[]; n: string[] }>('SELECT $1::bigint[]::text[] AS b, $2::numeric[]::text[] AS n', [
      numberArray([0, -1, 2 ** 53 - 1, -(2 ** 40)]),
      numberArray(['1.500', '-0.250', '123456789012.345', 7]),
    ]);
    expect(rows[0]).toEqual({ b: ['0', '-1', String(2 ** 53 - 1), String(-(2 ** 40))], n: ['1.500', '-0.250', '123456789012.345', '7'] });
  });
});
