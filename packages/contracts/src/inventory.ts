import { z } from 'zod';
import { Quantity, hasAtMostThreeDecimals } from './money.ts';
import { BusinessDay, Identifier, Rfc3339, Sku, UnitOfMeasure } from './pos-transaction.ts';
import { Text } from './text.ts';

/**
 * Inventory: the events the store's inventory service publishes and the
 * bodies of its API. Quantities are JSON numbers with at most 3 decimals
 * (weighed goods), held as exact thousandths inside the service and as
 * NUMERIC in PostgreSQL; they may be negative (stock sold before its
 * delivery was booked).
 */

/** A stock quantity or delta: any sign, at most 3 decimals. */
export const StockQuantity = z
  .number()
  .min(-1_000_000_000)
  .max(1_000_000_000)
  .refine(hasAtMostThreeDecimals, { message: 'must have at most 3 decimals' });

/** Where a SKU stands against its settings. Ordered by severity. */
export const StockState = z.enum(['OK', 'LOW', 'OUT', 'NEGATIVE']);
export type StockState = z.infer<typeof StockState>;

/** What moved stock. POS kinds come from the transaction topic, the rest from the store API. */
export const MovementKind = z.enum([
  'SALE',
  'RETURN',
  'POST_VOID',
  'RECEIPT',
  'COUNT',
  'ADJUSTMENT',
  'TRANSFER_OUT',
  'TRANSFER_IN',
]);
export type MovementKind = z.infer<typeof MovementKind>;

export const InventoryLevelV1 = z.strictObject({
  storeId: Identifier,
  sku: Sku,
  onHand: StockQuantity,
  unitOfMeasure: UnitOfMeasure,
  state: StockState,
  /** Null for a SKU whose settings were set before anything moved. */
  lastMovement: z
    .strictObject({
      id: z.string().regex(/^\d+$/),
      kind: MovementKind,
      quantity: StockQuantity,
      at: Rfc3339,
    })
    .nullable(),
  updatedAt: Rfc3339,
});
export type InventoryLevel = z.infer<typeof InventoryLevelV1>;

export const AlertType = z.enum(['LOW_STOCK', 'OUT_OF_STOCK', 'NEGATIVE_STOCK', 'BACK_IN_STOCK']);
export type AlertType = z.infer<typeof AlertType>;

export const InventoryAlertV1 = z.strictObject({
  /** Unique and stable per alert ("<sku>:<movement id>"): a re-published alert is recognisable. */
  alertId: z.string().min(1).max(128),
  storeId: Identifier,
  sku: Sku,
  type: AlertType,
  state: StockState,
  previousState: StockState,
  onHand: StockQuantity,
  reorderPoint: StockQuantity.nullable(),
  reorderQuantity: Quantity.nullable(),
  at: Rfc3339,
});
export type InventoryAlert = z.infer<typeof InventoryAlertV1>;

// --- store API bodies -------------------------------------------------------

const reference = z.string().min(1).max(64).regex(/^[\w./:-]+$/, 'must be letters, digits or ./:-_');
const note = Text(500, 0).optional();

const movedLine = z.strictObject({
  sku: Sku,
  quantity: Quantity,
  /** Only used when the SKU is new to this store. */
  description: Text(200).optional(),
  unitOfMeasure: UnitOfMeasure.optional(),
});

const uniqueSkus = <T extends { sku: string }>(lines: T[], ctx: z.core.$RefinementCtx<T[]>) => {
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    if (seen.has(line.sku)) ctx.addIssue({ code: 'custom', path: [i, 'sku'], message: 'is listed twice; one line per SKU' });
    seen.add(line.sku);
  });
};

/** A delivery booked in. */
export const GoodsReceiptRequest = z.strictObject({
  reference,
  supplier: Text(100).optional(),
  note,
  /** The purchase order (its reference) this delivery fulfils: the order's open lines close (no longer on order). */
  order: reference.optional(),
  lines: z.array(movedLine).min(1).max(500).superRefine(uniqueSkus),
});

/**
 * A purchase order placed with a supplier: expected receipts, counted "on
 * order" by replenishment until a goods receipt naming the order (`order`)
 * closes it. The reference is the order's number, unique in the store.
 */
export const PurchaseOrderRequest = z.strictObject({
  reference,
  supplier: Text(100).optional(),
  note,
  /** The business day the delivery is expected. */
  expectedOn: BusinessDay,
  lines: z.array(z.strictObject({ sku: Sku, quantity: Quantity })).min(1).max(500).superRefine(uniqueSkus),
});
export type PurchaseOrderRequest = z.infer<typeof PurchaseOrderRequest>;

/** A stock count: absolute quantities; the service books the variance against what it had. */
export const StockCountRequest = z.strictObject({
  reference: reference.optional(),
  note,
  lines: z
    .array(z.strictObject({ sku: Sku, counted: StockQuantity.refine((q) => q >= 0, { message: 'must not be negative' }) }))
    .min(1)
    .max(5000)
    .superRefine(uniqueSkus),
});

export const AdjustmentReason = z.enum(['DAMAGE', 'THEFT', 'EXPIRY', 'FOUND', 'CORRECTION']);
export type AdjustmentReason = z.infer<typeof AdjustmentReason>;
/** Reasons that can only take stock away, or only add it. */
export const REASON_DIRECTION: Record<AdjustmentReason, -1 | 1 | 0> = { DAMAGE: -1, THEFT: -1, EXPIRY: -1, FOUND: 1, CORRECTION: 0 };

export const AdjustmentRequest = z
  .strictObject({
    reason: AdjustmentReason,
    reference: reference.optional(),
    note,
    /** Signed: negative takes stock away. */
    lines: z
      .array(z.strictObject({ sku: Sku, quantity: StockQuantity.refine((q) => q !== 0, { message: 'must not be zero' }) }))
      .min(1)
      .max(500)
      .superRefine(uniqueSkus),
  })
  .superRefine((body, ctx) => {
    const direction = REASON_DIRECTION[body.reason];
    if (direction === 0) return;
    body.lines.forEach((line, i) => {
      if (Math.sign(line.quantity) !== direction) {
        ctx.addIssue({
          code: 'custom',
          path: ['lines', i, 'quantity'],
          message: `must be ${direction < 0 ? 'negative' : 'positive'} for reason ${body.reason}`,
        });
      }
    });
  });

export const TransferRequest = z.strictObject({
  direction: z.enum(['OUT', 'IN']),
  /** The other store (or warehouse) of the transfer. */
  counterparty: Identifier,
  reference,
  note,
  lines: z.array(movedLine).min(1).max(500).superRefine(uniqueSkus),
});

/**
 * How an item's reorder point is set: FIXED (the `reorderPoint` setting, as
 * always) or FORECAST (demand forecast over the lead time plus safety stock;
 * the fixed point is the fallback while the SKU has no forecast).
 */
export const ReorderMode = z.enum(['FIXED', 'FORECAST']);
export type ReorderMode = z.infer<typeof ReorderMode>;

/**
 * Replenishment defaults, used where an item's setting is not set (null):
 * each suggestion lists the figures it used and which were defaults.
 */
export const REPLENISHMENT_DEFAULTS = { leadTimeDays: 2, reviewPeriodDays: 1, packSize: 1, minimumOrder: 0, serviceLevel: 0.95 } as const;

/**
 * An item's settings. The first three are required (null clears them), as
 * ever; the replenishment settings are optional: absent leaves what the item
 * has (so a client that predates them changes nothing of them), null clears
 * one back to its default (REPLENISHMENT_DEFAULTS).
 */
export const ItemSettingsRequest = z
  .strictObject({
    reorderPoint: StockQuantity.refine((q) => q >= 0, { message: 'must not be negative' }).nullable(),
    reorderQuantity: Quantity.nullable(),
    maximum: Quantity.nullable(),
    description: Text(200).optional(),
    unitOfMeasure: UnitOfMeasure.optional(),
    /** Days from ordering to the goods on the shelf (0: same day). */
    leadTimeDays: z.number().int().min(0).max(365).nullable().optional(),
    /** Days between two orders of this item (1: ordered every day). */
    reviewPeriodDays: z.number().int().min(1).max(365).nullable().optional(),
    /** Orders are whole packs of this many units. */
    packSize: Quantity.nullable().optional(),
    /** No order below this many units (the supplier's minimum). */
    minimumOrder: StockQuantity.refine((q) => q >= 0, { message: 'must not be negative' }).nullable().optional(),
    /** The chance of not running out within a cycle, 0.5 to 0.999 (z of the normal distribution sizes the safety stock). */
    serviceLevel: z.number().min(0.5).max(0.999).nullable().optional(),
    reorderMode: ReorderMode.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.maximum !== null && s.reorderPoint !== null && s.maximum <= s.reorderPoint) {
      ctx.addIssue({ code: 'custom', path: ['maximum'], message: 'must be above reorderPoint' });
    }
    if (s.maximum !== null && s.reorderQuantity !== null && s.reorderQuantity > s.maximum) {
      ctx.addIssue({ code: 'custom', path: ['reorderQuantity'], message: 'must not exceed maximum' });
    }
  });
export type ItemSettingsRequest = z.infer<typeof ItemSettingsRequest>;

// --- replenishment ------------------------------------------------------------

/**
 * Where a suggestion's figures come from: FORECAST (the SKU's demand
 * forecast), FIXED_FALLBACK (no forecast yet: the fixed reorder point and
 * reorder quantity or maximum), NONE (neither: nothing to suggest from).
 */
export const ReplenishmentBasis = z.enum(['FORECAST', 'FIXED_FALLBACK', 'NONE']);
export type ReplenishmentBasis = z.infer<typeof ReplenishmentBasis>;

const Units = z.number().min(-1_000_000_000).max(1_000_000_000);

/**
 * A replenishment suggestion for one SKU: what to order, when, and why (the
 * figures it was computed from), as the store computes it
 * (services/inventory/src/replenishment.ts) and HQ receives it.
 */
export const ReplenishmentSuggestionV1 = z.strictObject({
  storeId: Identifier,
  sku: Sku,
  description: z.string().nullable(),
  /** The business day the suggestion is for ("today" in the store). */
  businessDay: BusinessDay,
  basis: ReplenishmentBasis,
  reorderMode: ReorderMode,
  /** True when the position is at or below the reorder point: order today. */
  orderToday: z.boolean(),
  /** When to order: today, the day the projected stock reaches the reorder point, or null (not within the forecast's reach, or nothing to suggest from). */
  orderOn: BusinessDay.nullable(),
  /** Units to order then, rounded up to whole packs and the minimum order; 0 when there is nothing to order. */
  quantity: Units.min(0),
  why: z.strictObject({
    onHand: Units,
    /** Open purchase order lines (expected receipts). */
    onOrder: Units,
    /** onHand + onOrder. */
    position: Units,
    leadTimeDays: z.number().int().min(0),
    reviewPeriodDays: z.number().int().min(1),
    /** Forecast demand over the lead time, and over lead time + review period (null without a forecast). */
    demandOverLeadTime: Units.nullable(),
    demandOverLeadTimeAndReview: Units.nullable(),
    /** The forecast's backtest error, units per day (null without a forecast). */
    dailyRmse: Units.nullable(),
    serviceLevel: z.number(),
    /** z of the service level (inverse standard normal CDF). */
    z: z.number(),
    /** z x dailyRmse x sqrt(lead time + review period) (null without a forecast). */
    safetyStock: Units.nullable(),
    /** The reorder point used (null: none set and no forecast). */
    reorderPoint: Units.nullable(),
    /** The level an order brings the position up to (null: nothing to size an order from). */
    orderUpTo: Units.nullable(),
    packSize: Units,
    minimumOrder: Units,
    /** Settings that were not set, so their default (REPLENISHMENT_DEFAULTS) was used. */
    defaulted: z.array(z.enum(['leadTimeDays', 'reviewPeriodDays', 'packSize', 'minimumOrder', 'serviceLevel'])),
    forecast: z
      .strictObject({
        method: z.string(),
        issuedAt: Rfc3339,
        dataThrough: BusinessDay,
        /** Days the forecast covers; beyond them its mean daily rate is used. */
        horizonDays: z.number().int().min(0),
        meanDailyRate: Units,
      })
      .nullable(),
    /** The reasoning in one sentence, for people. */
    note: z.string(),
  }),
  computedAt: Rfc3339,
});
export type ReplenishmentSuggestion = z.infer<typeof ReplenishmentSuggestionV1>;
