/**
 * PostgreSQL array literals for `$n::type[]` parameters, built in one pass.
 * node-postgres encodes an array parameter element by element: it prepares
 * each value, escapes it with two regular-expression replacements and
 * appends it to a growing string. A catch-up batch sends tens of thousands
 * of elements per column (arrays.test.ts checks PostgreSQL reads back what
 * was given).
 */

/**
 * An array of numbers, or of numeric text such as '1.500', for a `bigint[]`
 * or `numeric[]` parameter. Only for values that need no quoting: finite
 * numbers and numeric strings.
 */
export function numberArray(values: ReadonlyArray<number | string>): string {
  return `{${values.join(',')}}`;
}

const QUOTED = /["\\]/;
const QUOTES = /["\\]/g;

/**
 * An array of text (or of anything written as text: uuid, date, timestamp),
 * for a `text[]`, `uuid[]`, ... parameter; null is SQL NULL. Every element
 * is quoted, so none is read as NULL, split at a comma or trimmed; quotes and
 * backslashes are escaped.
 */
export function textArray(values: ReadonlyArray<string | null>): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    parts[i] = v === null ? 'NULL' : QUOTED.test(v) ? `"${v.replace(QUOTES, '\\$&')}"` : `"${v}"`;
  }
  return `{${parts.join(',')}}`;
}
