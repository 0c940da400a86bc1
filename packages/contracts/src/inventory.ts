import { z } from 'zod';
import { Quantity, hasAtMostThreeDecimals } from './money.ts';
import { Identifier, Rfc3339, Sku, UnitOfMeasure } from './pos-transaction.ts';
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
  lines: z.array(movedLine).min(1).max(500).superRefine(uniqueSkus),
});

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

export const ItemSettingsRequest = z
  .strictObject({
    reorderPoint: StockQuantity.refine((q) => q >= 0, { message: 'must not be negative' }).nullable(),
    reorderQuantity: Quantity.nullable(),
    maximum: Quantity.nullable(),
    description: Text(200).optional(),
    unitOfMeasure: UnitOfMeasure.optional(),
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
