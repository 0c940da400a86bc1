import type { Granularity } from '@tillstream/contracts';

/**
 * What a store's sync uploads and how it cuts it into batches: the knobs
 * that differ between today's sync and a coalescing one. Every number is
 * explicit so the profile can be aligned with what sync really does
 * (issue 17 item 1 is changing it) without touching the simulator's code.
 */
export interface TrafficProfile {
  name: string;
  /** Aggregate windows uploaded; the others are computed by the store and never leave it. */
  granularities: readonly Granularity[];
  /**
   * 0: every revision of a window and every stock level goes up as it
   * happens (today). Otherwise windows and levels are held and only the
   * latest revision per key goes up, once per this many store seconds.
   * Transactions and alerts always go up at once.
   */
  coalesceSeconds: number;
  /** A batch is cut as soon as the pending records reach a size drawn in [min, max] (uniform). */
  batchMinRecords: number;
  batchMaxRecords: number;
  /** Whatever is pending is cut (in batches of at most batchMaxRecords) at least this often, in store seconds. */
  flushSeconds: number;
}

/**
 * Today's sync: every revision of every window (5-minute, hourly, day) and
 * every stock level, in the 10–30-record batches the outbox cutter makes
 * between polls of a store trading at a few transactions a minute.
 */
export const TODAY: TrafficProfile = {
  name: 'today',
  granularities: ['5m', '1h', 'day'],
  coalesceSeconds: 0,
  batchMinRecords: 10,
  batchMaxRecords: 30,
  flushSeconds: 5,
};

/**
 * The coalescing sync of issue 17 item 1 as modelled here: windows and
 * levels at their latest revision per key every 5 minutes, day windows
 * only (the only granularity HQ's views read today; add '1h' when a view
 * uses it), batches of up to 2,000 records,
 * transactions and alerts within 30 seconds. Align these with the
 * coalescing sync's defaults when it lands (SYNC_COALESCE_MS and friends).
 */
export const COALESCED: TrafficProfile = {
  name: 'coalesced',
  granularities: ['day'],
  coalesceSeconds: 300,
  batchMinRecords: 2000,
  batchMaxRecords: 2000,
  flushSeconds: 30,
};

export const PROFILES: Readonly<Record<string, TrafficProfile>> = { today: TODAY, coalesced: COALESCED };

/** What one store trades in a day (the figures are the defaults). */
export interface StoreDayShape {
  /** Transactions per trading day (all sales). */
  transactions: number;
  tradingHours: number;
  terminals: number;
  skus: number;
  /** SKUs belong to this many categories; a basket's lines are in different categories. */
  categories: number;
  /** Lines per sale (distinct SKUs, distinct categories). */
  linesPerSale: number;
  /** Units on hand per SKU at opening, and the reorder point a LOW_STOCK alert fires at. */
  openingStock: number;
  reorderPoint: number;
}

export const DEFAULT_SHAPE: StoreDayShape = {
  transactions: 3000,
  tradingHours: 14,
  terminals: 6,
  skus: 2000,
  categories: 50,
  linesPerSale: 3,
  openingStock: 12,
  reorderPoint: 5,
};

/** Windows one sale touches per granularity: the store, its terminal, its tender, and each line's SKU and category. */
export function windowsPerSale(shape: Pick<StoreDayShape, 'linesPerSale'>): number {
  return 3 + 2 * shape.linesPerSale;
}

/**
 * Records a store uploads for `sales` sales under the `today` profile, by
 * formula: each sale once, a revision of every window it touches in every
 * granularity, a stock level per line, and the alerts. Alerts depend on the
 * stock and are counted by the generator.
 */
export function todayRecords(shape: Pick<StoreDayShape, 'linesPerSale'>, sales: number, alerts: number, granularities = TODAY.granularities.length): number {
  return sales * (1 + granularities * windowsPerSale(shape) + shape.linesPerSale) + alerts;
}
