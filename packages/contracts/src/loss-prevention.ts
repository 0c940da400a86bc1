import { z } from 'zod';
import { BusinessDay, Identifier, Rfc3339 } from './pos-transaction.ts';

/**
 * Loss-prevention signals (issue 18 item 4): per operator and per terminal,
 * how often they post-void, void lines, refund without a known original
 * receipt, open the drawer without a sale, ring in training mode, and refund
 * an item they sold themselves shortly before, compared with their peers in
 * the store and with their own history by a robust score (median and median
 * absolute deviation x 1.4826). Sensitive staff data: only a store manager
 * (and HQ) may read it. An alert is evidence to look at, never a verdict.
 */

/**
 * What is counted, per transaction handled:
 * - POST_VOID: post-voids the operator rang (amount: the voided original's grand total, once known);
 * - LINE_VOID: lines voided inside a sale or return (amount: their extended amounts);
 * - RETURN_WITHOUT_ORIGINAL: returns whose original sale this store never booked (amount: the return's grand total);
 * - NO_SALE: drawer openings without a sale;
 * - TRAINING_MODE: transactions rung in training mode (amount: their grand totals);
 * - REFUND_AFTER_SALE: returns of an item the same operator sold within the configured window before (amount: those lines).
 * Training-mode transactions count only as TRAINING_MODE (they book nothing else).
 */
export const LossSignal = z.enum(['POST_VOID', 'LINE_VOID', 'RETURN_WITHOUT_ORIGINAL', 'NO_SALE', 'TRAINING_MODE', 'REFUND_AFTER_SALE']);
export type LossSignal = z.infer<typeof LossSignal>;

/** Who is scored: an operator (a person) or a terminal (a till). */
export const LossDimension = z.enum(['OPERATOR', 'TERMINAL']);
export type LossDimension = z.infer<typeof LossDimension>;

/** The period scored: the business day, or the 7 business days ending with it. */
export const LossScope = z.enum(['DAY', '7D']);
export type LossScope = z.infer<typeof LossScope>;

/** What the member's rate is compared with: the store's other members of the same dimension over the same period, or the member's own earlier periods. */
export const LossComparison = z.enum(['PEERS', 'OWN_HISTORY']);
export type LossComparison = z.infer<typeof LossComparison>;

export const LossPreventionAlertV1 = z.strictObject({
  /**
   * Stable per (store, dimension, member, signal, scope, comparison,
   * business day): scoring the same period again (a re-run, a restart)
   * finds the same id and publishes nothing new.
   */
  alertId: z.string().min(1).max(200),
  storeId: Identifier,
  businessDay: BusinessDay,
  scope: LossScope,
  dimension: LossDimension,
  member: Identifier,
  signal: LossSignal,
  comparison: LossComparison,
  observed: z.strictObject({
    /** Transactions the member handled over the period (every type, training included). */
    transactions: z.number().int().min(0),
    count: z.number().int().min(0),
    /** Minor units of the store's currency. */
    amount: z.number().int().min(0),
    /** count / transactions. */
    rate: z.number().min(0),
  }),
  baseline: z.strictObject({
    /** Median of the peers' (or the member's earlier periods') rates. */
    median: z.number().min(0),
    /** Median absolute deviation x 1.4826, with a floor (LOSSPREV_MIN_SPREAD). */
    spread: z.number().min(0),
    /** How many peers, or earlier periods, the baseline holds. */
    size: z.number().int().min(1),
  }),
  /** (rate - median) / spread: robust deviations above the baseline. */
  score: z.number(),
  detectedAt: Rfc3339,
});
export type LossPreventionAlert = z.infer<typeof LossPreventionAlertV1>;
