/**
 * A PostgreSQL array literal of numbers, or of numeric text such as '1.500',
 * for a `$n::bigint[]` or `$n::numeric[]` parameter. node-postgres encodes an
 * array parameter element by element, quoting and escaping each one as text;
 * for the tens of thousands of numbers a catch-up batch sends, joining them
 * is several times cheaper. Only for values that need no quoting: finite
 * numbers and numeric strings.
 */
export function numberArray(values: ReadonlyArray<number | string>): string {
  return `{${values.join(',')}}`;
}
