import { milliToDecimal, type Dimension, type Granularity } from '@tillstream/contracts';
import { numberArray, textArray, type PoolClient } from '@tillstream/db';

/**
 * Sales windows, computed in the service: each contribution (a transaction
 * added, or a voided one taken off) is expanded into its 5-minute, hourly
 * and business-day windows, by store, SKU, category, terminal and tender,
 * summed in memory per window and member, and upserted in one statement.
 * (The same grouping in SQL, two hash aggregations over every line x
 * window x dimension, made a 15,000-line batch take 1.2 s instead of
 * 0.9 s; BENCHMARKS.md.)
 */

/** A line as it counts (stored in its transaction's contribution): signed by its transaction's type (a return's are negative). */
export interface SignedLine {
  sku: string;
  category: string;
  unitsMilli: number;
  gross: number;
  discount: number;
  net: number;
  tax: number;
}

export interface Contribution {
  /** 1 adds the transaction, -1 takes it off (post-void). */
  sign: 1 | -1;
  type: 'SALE' | 'RETURN';
  businessDay: string;
  occurredAtMs: number;
  terminalId: string;
  lines: SignedLine[];
  /** Tender type and amount net of change, signed like the lines. */
  tenders: { type: string; amount: number }[];
}

export interface Sums {
  granularity: Granularity;
  window: string;
  dimension: Dimension;
  member: string;
  unitsMilli: number;
  gross: number;
  discounts: number;
  net: number;
  tax: number;
  transactions: number;
  itemsMilli: number;
  returns: number;
  returnsUnitsMilli: number;
  returnsAmount: number;
}

const FIVE_MIN = 300_000;
const HOUR = 3_600_000;
const QUARTER = 900_000;

/** UTC instant -> local wall clock (as epoch ms read as UTC) in a time zone; offsets cached per quarter hour. */
export function wallClock(timeZone: string): (utcMs: number) => number {
  const format = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const offsets = new Map<number, number>();
  return (utcMs) => {
    const bucket = Math.floor(utcMs / QUARTER);
    let offset = offsets.get(bucket);
    if (offset === undefined) {
      const at = bucket * QUARTER;
      const parts = Object.fromEntries(format.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
      offset = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) - at;
      if (offsets.size > 10_000) offsets.clear();
      offsets.set(bucket, offset);
    }
    return utcMs + offset;
  };
}

/** A wall-clock time (epoch ms read as UTC) as PostgreSQL's `timestamp` text, and back. */
export const wallString = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
export const wallMs = (local: string) => Date.parse(`${local.replace(' ', 'T')}Z`);

const DIMENSIONS: readonly Dimension[] = ['store', 'sku', 'category', 'terminal', 'tender'];
const GRANULARITIES: readonly Granularity[] = ['5m', '1h', 'day'];
const [STORE, SKU, CATEGORY, TERMINAL, TENDER] = [0, 1, 2, 3, 4] as const;

/** Sums while summing: which contribution last counted a transaction in them. */
type Summing = Sums & { lastContribution: number };
/** A window's sums by dimension (indexed as DIMENSIONS) and member. */
type WindowSums = Array<Map<string, Summing>>;

/**
 * Sums contributions per window and member. Transactions and returns count
 * once per member a transaction touches. Hot during a catch-up (a batch of
 * 15,000 lines makes ~180,000 additions): windows are looked up once per
 * transaction and members in small maps, with no key strings built per line.
 */
export function sumWindows(contributions: readonly Contribution[], timeZone: string): Sums[] {
  const wall = wallClock(timeZone);
  const windows = new Map<string, WindowSums>();
  const windowText = new Map<number, string>();
  const textOf = (ms: number) => {
    let text = windowText.get(ms);
    if (text === undefined) windowText.set(ms, (text = wallString(ms)));
    return text;
  };
  const out: Summing[] = [];
  /** A member's sums in a window, counting contribution `n`'s transaction once in them (no closure per window: this loop is hot). */
  const member = (w: WindowSums, g: Granularity, window: string, dimension: number, name: string, n: number, k: number, sale: boolean): Summing => {
    const sums = w[dimension]!;
    let s = sums.get(name);
    if (!s) {
      s = { granularity: g, window, dimension: DIMENSIONS[dimension]!, member: name, unitsMilli: 0, gross: 0, discounts: 0, net: 0, tax: 0, transactions: 0, itemsMilli: 0, returns: 0, returnsUnitsMilli: 0, returnsAmount: 0, lastContribution: -1 };
      sums.set(name, s);
      out.push(s);
    }
    if (s.lastContribution !== n) {
      s.lastContribution = n;
      if (sale) s.transactions += k;
      else s.returns += k;
    }
    return s;
  };
  const add = (s: Sums, l: SignedLine, k: number, sale: boolean) => {
    s.unitsMilli += k * l.unitsMilli;
    s.gross += k * l.gross;
    s.discounts += k * l.discount;
    s.net += k * l.net;
    s.tax += k * l.tax;
    if (sale) s.itemsMilli += k * l.unitsMilli;
    else {
      s.returnsUnitsMilli -= k * l.unitsMilli;
      s.returnsAmount -= k * l.net;
    }
  };
  for (let n = 0; n < contributions.length; n++) {
    const c = contributions[n]!;
    const local = wall(c.occurredAtMs);
    const k = c.sign;
    const sale = c.type === 'SALE';
    for (let gi = 0; gi < GRANULARITIES.length; gi++) {
      const g = GRANULARITIES[gi]!;
      const window = g === '5m' ? textOf(Math.floor(local / FIVE_MIN) * FIVE_MIN) : g === '1h' ? textOf(Math.floor(local / HOUR) * HOUR) : `${c.businessDay} 00:00:00`;
      const key = `${g}|${window}`;
      let w = windows.get(key);
      if (!w) windows.set(key, (w = DIMENSIONS.map(() => new Map<string, Summing>())));
      if (c.lines.length > 0) {
        const store = member(w, g, window, STORE, 'all', n, k, sale);
        const terminal = member(w, g, window, TERMINAL, c.terminalId, n, k, sale);
        for (const l of c.lines) {
          add(store, l, k, sale);
          add(terminal, l, k, sale);
          add(member(w, g, window, SKU, l.sku, n, k, sale), l, k, sale);
          add(member(w, g, window, CATEGORY, l.category, n, k, sale), l, k, sale);
        }
      }
      for (const t of c.tenders) {
        const s = member(w, g, window, TENDER, t.type, n, k, sale);
        s.net += k * t.amount;
        if (!sale) s.returnsAmount -= k * t.amount;
      }
    }
  }
  // Sorted in the primary key's order: every writer locks windows in the same order, and the upsert walks the index
  // from one leaf to the next.
  return out.sort(byKey);
}

/**
 * Sums in the windows' primary key order (granularity, dimension, window, member): compareKeys' order, without
 * an array per comparison (this sort, and addToWindows' check of it, are hot).
 */
const byKey = (a: Sums, b: Sums): number =>
  a.granularity < b.granularity ? -1 : a.granularity > b.granularity ? 1 : a.dimension < b.dimension ? -1 : a.dimension > b.dimension ? 1 : a.window < b.window ? -1 : a.window > b.window ? 1 : a.member < b.member ? -1 : a.member > b.member ? 1 : 0;

/**
 * Orders keys (granularity, dimension, window, member, ...) part by part in
 * code-unit order, as the "C" collation does: the order in which the
 * consumer locks windows and every writer of sales_aggregate_changes (the
 * consumer, the publisher's acknowledgements) locks slots.
 */
export function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

/** The statement that adds sums to their windows (windowsStatement), and the windows it touches per granularity. */
export interface WindowsStatement {
  touched: Record<Granularity, number>;
  /** Undefined for no sums (nothing to book). */
  query: { text: string; values: unknown[] } | undefined;
}

/** Adds the sums to their windows (raising each one's revision) and lists their slots as changed. Returns windows touched per granularity. */
export async function addToWindows(client: PoolClient, sums: readonly Sums[] | WindowsStatement): Promise<Record<Granularity, number>> {
  const statement = 'touched' in sums ? sums : windowsStatement(sums);
  if (statement.query) await client.query(statement.query);
  return statement.touched;
}

/**
 * The statement addToWindows runs for these sums: built apart, so the consumer builds it while PostgreSQL
 * inserts the batch's transactions (facts.ts recordSales), not after.
 *
 * One statement, slots first: each slot's change count goes up (the row stays locked until the
 * batch commits), then every window is stamped with its slot's new count (`slot_change`), which is
 * how the publisher tells what it has not sent yet without writing to the windows
 * (migrations/store/*_trends-published-by-slot.sql). The windows name their slot by its place in the
 * slot arrays: a batch's 20,000 windows fall in a few hundred slots, whose keys (and timestamps) are
 * sent and parsed once each.
 *
 * `sums` come in sumWindows' order (granularity, dimension, window, member), so slots are in key order
 * (every writer locks them in that order) and each slot's windows are next to each other.
 *
 * A slot this statement creates (its count is 1 once listed) has no windows yet: every slot with windows has
 * its row (migrations/store/*_trends-every-window-has-its-slot.sql), and a slot row is created only here, with
 * its windows, the row staying locked until the batch commits. Its windows are plain inserts; only those of
 * slots listed before go through ON CONFLICT, a speculative insertion (an index probe first, and a WAL
 * record more per row). A catch-up mostly creates slots: its windows' statements took 13.1 s instead of
 * 17.3 s for a million lines (one run each; BENCHMARKS.md).
 */
export function windowsStatement(sums: readonly Sums[]): WindowsStatement {
  const touched: Record<Granularity, number> = { '5m': 0, '1h': 0, day: 0 };
  if (sums.length === 0) return { touched, query: undefined };
  const slotGranularity: string[] = [];
  const slotDimension: string[] = [];
  const slotWindow: string[] = [];
  const slotOf: number[] = [];
  let last: Sums | undefined;
  for (const s of sums) {
    touched[s.granularity]++;
    if (last && byKey(last, s) >= 0) throw new Error('windowsStatement: sums are not in key order (as sumWindows returns them)');
    if (!last || s.granularity !== last.granularity || s.dimension !== last.dimension || s.window !== last.window) {
      slotGranularity.push(s.granularity);
      slotDimension.push(s.dimension);
      slotWindow.push(s.window);
    }
    slotOf.push(slotGranularity.length);
    last = s;
  }
  const numbers = (f: (s: Sums) => number | string) => numberArray(sums.map(f));
  const text = `WITH slot AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamp[]) WITH ORDINALITY AS u(granularity, dimension, window_start, n)
     ), listed AS (
       INSERT INTO sales_aggregate_changes AS c (granularity, dimension, window_start)
       SELECT granularity, dimension, window_start FROM slot ORDER BY n
       ON CONFLICT (granularity, dimension, window_start) DO UPDATE SET changes = c.changes + 1
       RETURNING granularity, dimension, window_start, changes
     ), sums AS (
       SELECT l.granularity, l.dimension, w.member, l.window_start, w.units, w.gross, w.discounts, w.net, w.tax, w.transactions, w.items, w.returns,
              w.returns_units, w.returns_amount, l.changes
       FROM unnest($4::int[], $5::text[], $6::numeric[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::int[], $12::numeric[], $13::int[],
                   $14::numeric[], $15::bigint[])
              AS w(slot, member, units, gross, discounts, net, tax, transactions, items, returns, returns_units, returns_amount)
       JOIN slot ON slot.n = w.slot
       JOIN listed l ON (l.granularity, l.dimension, l.window_start) = (slot.granularity, slot.dimension, slot.window_start)
     ), created AS (
       INSERT INTO sales_aggregates
         (granularity, dimension, member, window_start, units, gross, discounts, net, tax, transactions, items, returns, returns_units, returns_amount, slot_change)
       SELECT * FROM sums WHERE changes = 1
     )
     INSERT INTO sales_aggregates AS a
       (granularity, dimension, member, window_start, units, gross, discounts, net, tax, transactions, items, returns, returns_units, returns_amount, slot_change)
     SELECT * FROM sums WHERE changes > 1
     ON CONFLICT (granularity, dimension, member, window_start) DO UPDATE SET
       units = a.units + EXCLUDED.units, gross = a.gross + EXCLUDED.gross, discounts = a.discounts + EXCLUDED.discounts,
       net = a.net + EXCLUDED.net, tax = a.tax + EXCLUDED.tax, transactions = a.transactions + EXCLUDED.transactions,
       items = a.items + EXCLUDED.items, returns = a.returns + EXCLUDED.returns,
       returns_units = a.returns_units + EXCLUDED.returns_units, returns_amount = a.returns_amount + EXCLUDED.returns_amount,
       revision = a.revision + 1, updated_at = now(), slot_change = EXCLUDED.slot_change`;
  const values = [
    slotGranularity,
    slotDimension,
    slotWindow,
    numberArray(slotOf),
    textArray(sums.map((s) => s.member)),
    numbers((s) => milliToDecimal(s.unitsMilli)),
    numbers((s) => s.gross),
    numbers((s) => s.discounts),
    numbers((s) => s.net),
    numbers((s) => s.tax),
    numbers((s) => s.transactions),
    numbers((s) => milliToDecimal(s.itemsMilli)),
    numbers((s) => s.returns),
    numbers((s) => milliToDecimal(s.returnsUnitsMilli)),
    numbers((s) => s.returnsAmount),
  ];
  return { touched, query: { text, values } };
}
