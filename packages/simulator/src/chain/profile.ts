import type { Dimension, Granularity } from '@tillstream/contracts';

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
  /** Dimensions of those windows uploaded (absent: all), as HQ's declaration of what it reads (HqReadsV1) narrows them. */
  dimensions?: readonly Dimension[];
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
 * The coalescing sync (issue 17 item 1) with its defaults, as
 * services/sync/src/env.ts sets them: windows and levels held in
 * sync_pending and moved to the outbox at their latest revision every
 * 5 minutes (SYNC_COALESCE_MS=300000); only what HQ declares it reads
 * (GET /v1/stores/<id>/reads: day windows by store, SKU and category);
 * a batch cut once 500 records wait (SYNC_BATCH_MIN_RECORDS; up to
 * SYNC_BATCH_RECORDS=2000 in one) or once the oldest waited a minute
 * (SYNC_BATCH_MAX_DELAY_MS=60000), modelled as a cut of everything
 * pending every 60 store seconds. Transactions and alerts never wait in
 * sync_pending, only for their batch.
 */
export const COALESCED: TrafficProfile = {
  name: 'coalesced',
  granularities: ['day'],
  dimensions: ['store', 'sku', 'category'],
  coalesceSeconds: 300,
  batchMinRecords: 500,
  batchMaxRecords: 2000,
  flushSeconds: 60,
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
