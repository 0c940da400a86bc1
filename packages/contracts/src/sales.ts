import { z } from 'zod';
import { BusinessDay, Identifier, Rfc3339 } from './pos-transaction.ts';

/**
 * Sales trends: the aggregates and anomalies the store's trends service
 * publishes. Money in integer minor units; units may carry 3 decimals
 * (weighed goods). Returns are netted (they count negative) and also
 * reported on their own; training-mode and post-voided transactions are
 * excluded.
 */

export const Granularity = z.enum(['5m', '1h', 'day']);
export type Granularity = z.infer<typeof Granularity>;

export const Dimension = z.enum(['store', 'sku', 'category', 'terminal', 'tender']);
export type Dimension = z.infer<typeof Dimension>;

/**
 * The figures of one window and member. Units and money are net of returns;
 * `transactions` and `items` count sales only (basket size = items /
 * transactions, basket value = (net + returnsAmount) / transactions).
 * Tender members carry money and counts only.
 */
export const SalesFigures = z.strictObject({
  units: z.number(),
  gross: z.number().int(),
  discounts: z.number().int(),
  net: z.number().int(),
  tax: z.number().int(),
  transactions: z.number().int(),
  items: z.number(),
  returns: z.number().int(),
  returnsUnits: z.number(),
  returnsAmount: z.number().int(),
});
export type SalesFigures = z.infer<typeof SalesFigures>;

export const SalesAggregateV1 = z.strictObject({
  storeId: Identifier,
  granularity: Granularity,
  /** Window start in the store's time zone, with its offset; for `day`, the business day's midnight. */
  windowStart: Rfc3339,
  businessDay: BusinessDay.nullable(),
  dimension: Dimension,
  member: z.string().min(1).max(64),
  figures: SalesFigures,
  /** Increases every time the window is restated (late data, voids). Consumers keep the highest. */
  revision: z.number().int().min(1),
  updatedAt: Rfc3339,
});
export type SalesAggregate = z.infer<typeof SalesAggregateV1>;

export const SalesAnomalyV1 = z.strictObject({
  /** Stable per (kind, member, hour): a re-published anomaly is recognisable. */
  anomalyId: z.string().min(1).max(160),
  storeId: Identifier,
  kind: z.enum(['STORE_REVENUE', 'SKU_UNITS']),
  member: z.string().min(1).max(64),
  windowStart: Rfc3339,
  observed: z.number(),
  baselineMedian: z.number(),
  /** Median absolute deviation of the baseline, scaled to a standard deviation (x 1.4826). */
  baselineSpread: z.number(),
  /** (observed - median) / spread: how many robust deviations away. */
  score: z.number(),
  direction: z.enum(['HIGH', 'LOW']),
  baselineWindows: z.number().int().min(1),
  detectedAt: Rfc3339,
});
export type SalesAnomaly = z.infer<typeof SalesAnomalyV1>;
