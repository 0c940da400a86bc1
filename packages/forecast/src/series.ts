/**
 * Daily series from sparse day figures: every calendar day from `from` to
 * `through` (inclusive, YYYY-MM-DD), a SKU's units on days the store traded
 * (0 when the SKU sold nothing that day) and null on days it did not (closed:
 * missing, not 0).
 */
export interface DailySeries {
  /** The first day. */
  from: string;
  /** Weekday of the first day, 0 = Sunday. */
  firstWeekday: number;
  days: string[];
  values: (number | null)[];
}

const DAY = 86_400_000;
export const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
export const weekday = (day: string) => new Date(`${day}T00:00:00Z`).getUTCDay();

export function dailySeries(from: string, through: string, open: ReadonlySet<string>, units: ReadonlyMap<string, number>): DailySeries {
  const days: string[] = [];
  for (let d = from; d <= through; d = addDays(d, 1)) days.push(d);
  return { from, firstWeekday: weekday(from), days, values: days.map((d) => (open.has(d) ? (units.get(d) ?? 0) : null)) };
}
