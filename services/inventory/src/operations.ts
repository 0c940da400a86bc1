import type { z } from 'zod';
import {
  decimalToMilli,
  milliToDecimal,
  milliToQuantity,
  toMilli,
  type AdjustmentRequest,
  type ItemSettingsRequest,
  type GoodsReceiptRequest,
  type MovementKind,
  type PurchaseOrderRequest,
  type PurchaseOrderResult,
  type StockCountRequest,
  type StockState,
  type TransferRequest,
} from '@tillstream/contracts';
import { requestHash, runIdempotent, withTransaction, type Pool, type PoolClient, type Queryable } from '@tillstream/db';
import { HttpProblem, pointer } from '@tillstream/http';
import { applyMovements, groupMovements, lockOnHand, recordOperationMovements, resettleItems, type ItemFacts, type LedgerContext, type OperationMovement } from './ledger.ts';

/**
 * Stock movements booked through the store API: goods receipts, stock
 * counts, adjustments and transfers. Each is one database transaction under
 * an Idempotency-Key: the same key and body replays the stored response, the
 * same key with another body is refused (422), the same key still being
 * booked by another request is refused (409).
 */

export type Operation =
  | { kind: 'RECEIPT'; body: z.output<typeof GoodsReceiptRequest> }
  | { kind: 'COUNT'; body: z.output<typeof StockCountRequest> }
  | { kind: 'ADJUSTMENT'; body: z.output<typeof AdjustmentRequest> }
  | { kind: 'TRANSFER'; body: z.output<typeof TransferRequest> };

export interface OperationLine {
  sku: string;
  /** The movement booked (signed). */
  quantity: number;
  /** For counts: what was counted, and what the ledger held before. */
  counted?: number;
  previous?: number;
  onHand: number;
  state: StockState;
}

export interface OperationResponse {
  operationId: string;
  kind: MovementKind;
  idempotencyKey: string;
  reference: string | null;
  reason: string | null;
  counterparty: string | null;
  recordedAt: string;
  lines: OperationLine[];
}

export interface BookedOperation {
  response: OperationResponse;
  replayed: boolean;
}

/** Hash of the validated body (zod rebuilds objects in schema order, so key order does not matter). */
function bodyHash(operation: Operation): Buffer {
  return requestHash(operation.kind, JSON.stringify(operation.body));
}

function unknownSkus(skus: string[], known: Map<string, number>, action: string): HttpProblem | undefined {
  const errors = skus.flatMap((sku, i) => (known.has(sku) ? [] : [{ pointer: pointer(['lines', i, 'sku']), message: `is not a SKU of this store; it cannot be ${action}` }]));
  if (errors.length === 0) return undefined;
  return new HttpProblem('UNPROCESSABLE', `${errors.length} unknown SKU(s); book a receipt first or check the SKU`, { errors });
}

/** The movements an operation books, from the stock held now (rows locked). */
async function plan(client: PoolClient, operation: Operation): Promise<{ kind: MovementKind; moves: OperationMovement[]; items: Map<string, ItemFacts>; counted?: Map<string, { counted: number; previous: number }> }> {
  const skus = operation.body.lines.map((l) => l.sku);
  const onHand = await lockOnHand(client, skus);
  switch (operation.kind) {
    case 'RECEIPT': {
      const items = new Map(operation.body.lines.map((l) => [l.sku, { description: l.description, unitOfMeasure: l.unitOfMeasure }]));
      return { kind: 'RECEIPT', moves: operation.body.lines.map((l) => ({ sku: l.sku, kind: 'RECEIPT', milli: toMilli(l.quantity) })), items };
    }
    case 'COUNT': {
      const counted = new Map<string, { counted: number; previous: number }>();
      const moves = operation.body.lines.map((l): OperationMovement => {
        const previous = onHand.get(l.sku) ?? 0;
        const target = toMilli(l.counted);
        counted.set(l.sku, { counted: target, previous });
        // The variance is its own movement (zero when the count agrees: the count is still on record).
        return { sku: l.sku, kind: 'COUNT', milli: target - previous };
      });
      return { kind: 'COUNT', moves, items: new Map(), counted };
    }
    case 'ADJUSTMENT': {
      const problem = unknownSkus(skus, onHand, 'adjusted');
      if (problem) throw problem;
      return { kind: 'ADJUSTMENT', moves: operation.body.lines.map((l) => ({ sku: l.sku, kind: 'ADJUSTMENT', milli: toMilli(l.quantity) })), items: new Map() };
    }
    case 'TRANSFER': {
      const out = operation.body.direction === 'OUT';
      if (out) {
        const problem = unknownSkus(skus, onHand, 'transferred out');
        if (problem) throw problem;
      }
      const kind: MovementKind = out ? 'TRANSFER_OUT' : 'TRANSFER_IN';
      const items = new Map(operation.body.lines.map((l) => [l.sku, { description: l.description, unitOfMeasure: l.unitOfMeasure }]));
      return { kind, moves: operation.body.lines.map((l) => ({ sku: l.sku, kind, milli: (out ? -1 : 1) * toMilli(l.quantity) })), items };
    }
  }
}

/** Books `operation` under `key`; `actor` (the signed-in store manager) is recorded with it and shown in the movement history. */
export async function bookOperation(pool: Pool, ctx: LedgerContext, key: string, operation: Operation, actor: string): Promise<BookedOperation> {
  const hash = bodyHash(operation);
  return idempotentOperation<OperationResponse>(pool, key, hash, (client) => perform(client, ctx, key, operation, actor, hash));
}

/**
 * Runs `perform` once per Idempotency-Key (runIdempotent, inventory's
 * namespace): the same key and body replays the stored response, another
 * body under the key is refused, a key in flight is answered "retry".
 * Stock operations and purchase orders share inventory_operations and so
 * one key space.
 */
async function idempotentOperation<R>(pool: Pool, key: string, hash: Buffer, perform: (client: PoolClient) => Promise<R>): Promise<{ response: R; replayed: boolean }> {
  const { result, replayed } = await runIdempotent<R>(pool, {
    namespace: 'inventoryOperation',
    key,
    hash,
    refuse: {
      inFlight: () => new HttpProblem('IDEMPOTENCY_IN_FLIGHT', 'a request with this Idempotency-Key is being processed; retry shortly', { retryAfterSeconds: 1 }),
      reused: () => new HttpProblem('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different operation or body; use a new key'),
    },
    find: async (client) => {
      const { rows } = await client.query<{ body_hash: Buffer; response: R }>('SELECT body_hash, response FROM inventory_operations WHERE idempotency_key = $1', [key]);
      return rows[0] && { hash: rows[0].body_hash, result: rows[0].response };
    },
    perform,
  });
  return { response: result, replayed };
}

async function perform(client: PoolClient, ctx: LedgerContext, key: string, operation: Operation, actor: string, hash: Buffer): Promise<OperationResponse> {
  const planned = await plan(client, operation);
  const body = operation.body as { reference?: string; reason?: string; counterparty?: string; note?: string };
  const { rows } = await client.query<{ id: string; created_at: Date }>(
    `INSERT INTO inventory_operations (idempotency_key, kind, body_hash, reference, reason, counterparty, note, actor, response)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}') RETURNING id, created_at`,
    [key, planned.kind, hash, body.reference ?? null, body.reason ?? null, body.counterparty ?? null, body.note ?? null, actor],
  );
  const op = rows[0]!;
  if (operation.kind === 'RECEIPT' && operation.body.order !== undefined) await closePurchaseOrder(client, operation.body.order, op.id);
  const movements = await recordOperationMovements(client, op.id, planned.moves);
  const changes = await applyMovements(client, groupMovements(movements), planned.items, ctx);
  const response: OperationResponse = {
    operationId: op.id,
    kind: planned.kind,
    idempotencyKey: key,
    reference: body.reference ?? null,
    reason: body.reason ?? null,
    counterparty: body.counterparty ?? null,
    recordedAt: op.created_at.toISOString(),
    lines: planned.moves.map((m) => {
      const change = changes.get(m.sku)!;
      const count = planned.counted?.get(m.sku);
      return {
        sku: m.sku,
        quantity: milliToQuantity(m.milli),
        ...(count ? { counted: milliToQuantity(count.counted), previous: milliToQuantity(count.previous) } : {}),
        onHand: milliToQuantity(change.onHandMilli),
        state: change.state,
      };
    }),
  };
  await client.query('UPDATE inventory_operations SET response = $2 WHERE id = $1', [op.id, JSON.stringify(response)]);
  return response;
}

/** A goods receipt naming a purchase order closes the order's open lines: no longer on order (a shortfall is the next suggestion's). */
async function closePurchaseOrder(client: PoolClient, reference: string, receiptId: string): Promise<void> {
  const closed = await client.query(
    `UPDATE inventory_purchase_orders SET status = 'RECEIVED', received_operation_id = $2, closed_at = now() WHERE reference = $1 AND status = 'OPEN'`,
    [reference, receiptId],
  );
  if (closed.rowCount === 0) {
    throw new HttpProblem('UNPROCESSABLE', `there is no open purchase order ${reference}`, { errors: [{ pointer: '/order', message: 'is not the reference of an open purchase order of this store' }] });
  }
}

/** What a SKU has on order: the open lines of every purchase order, in thousandths. */
export async function onOrder(db: Queryable, skus: readonly string[] | null): Promise<Map<string, number>> {
  const { rows } = await db.query<{ sku: string; quantity: string }>(
    `SELECT sku, sum(quantity) AS quantity FROM inventory_purchase_orders WHERE status = 'OPEN' AND ($1::text[] IS NULL OR sku = ANY($1::text[])) GROUP BY sku`,
    [skus],
  );
  return new Map(rows.map((r) => [r.sku, decimalToMilli(r.quantity)]));
}

/**
 * Books a purchase order under `key` (as the stock operations: the same key
 * and body replays, another body is refused): its lines are on order from
 * now until a goods receipt names it. A second order with the same
 * reference is refused (a unique index, not a look-then-insert).
 */
export async function bookPurchaseOrder(pool: Pool, key: string, body: z.output<typeof PurchaseOrderRequest>, actor: string): Promise<{ response: PurchaseOrderResult; replayed: boolean }> {
  const hash = requestHash('PURCHASE_ORDER', JSON.stringify(body));
  return idempotentOperation<PurchaseOrderResult>(pool, key, hash, async (client) => {
    const { rows } = await client.query<{ id: string; created_at: Date }>(
      `INSERT INTO inventory_operations (idempotency_key, kind, body_hash, reference, counterparty, note, actor, response)
       VALUES ($1, 'PURCHASE_ORDER', $2, $3, $4, $5, $6, '{}')
       ON CONFLICT (reference) WHERE kind = 'PURCHASE_ORDER' DO NOTHING
       RETURNING id, created_at`,
      [key, hash, body.reference, body.supplier ?? null, body.note ?? null, actor],
    );
    const op = rows[0];
    if (!op) throw new HttpProblem('UNPROCESSABLE', `purchase order ${body.reference} exists already`, { errors: [{ pointer: '/reference', message: 'is the reference of another purchase order; one order per reference' }] });
    await client.query(
      `INSERT INTO inventory_purchase_orders (operation_id, reference, sku, quantity, expected_on)
       SELECT $1, $2, sku, quantity, $5 FROM unnest($3::text[], $4::numeric[]) AS u(sku, quantity)`,
      [op.id, body.reference, body.lines.map((l) => l.sku), body.lines.map((l) => milliToDecimal(toMilli(l.quantity))), body.expectedOn],
    );
    const ordered = await onOrder(client, body.lines.map((l) => l.sku));
    const response: PurchaseOrderResult = {
      operationId: op.id,
      kind: 'PURCHASE_ORDER',
      idempotencyKey: key,
      reference: body.reference,
      supplier: body.supplier ?? null,
      expectedOn: body.expectedOn,
      recordedAt: op.created_at.toISOString(),
      lines: body.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, onOrder: milliToQuantity(ordered.get(l.sku) ?? 0) })),
    };
    await client.query('UPDATE inventory_operations SET response = $2 WHERE id = $1', [op.id, JSON.stringify(response)]);
    return response;
  });
}

/** The replenishment settings a settings request may carry: absent leaves the item's, null clears it. */
const REPLENISHMENT_COLUMNS = [
  ['leadTimeDays', 'lead_time_days', 'int'],
  ['reviewPeriodDays', 'review_period_days', 'int'],
  ['packSize', 'pack_size', 'numeric'],
  ['minimumOrder', 'minimum_order', 'numeric'],
  ['serviceLevel', 'service_level', 'numeric'],
] as const;

/**
 * Sets a SKU's reorder point, reorder quantity and maximum, and the
 * replenishment settings the request carries (creating the SKU if nothing
 * moved it yet), and re-evaluates its alert state at once.
 */
export async function updateItemSettings(pool: Pool, ctx: LedgerContext, sku: string, settings: z.output<typeof ItemSettingsRequest>, actor: string): Promise<void> {
  const decimal = (q: number | null) => (q === null ? null : milliToDecimal(toMilli(q)));
  // $8.. : per replenishment column, whether the request sets it and its value; then the reorder mode.
  const given = REPLENISHMENT_COLUMNS.flatMap(([key]) => [settings[key] !== undefined, settings[key] ?? null]);
  const sets = REPLENISHMENT_COLUMNS.map(([, column, type], i) => `${column} = CASE WHEN $${8 + 2 * i}::bool THEN $${9 + 2 * i}::${type} ELSE i.${column} END`);
  const inserts = REPLENISHMENT_COLUMNS.map(([, , type], i) => `$${9 + 2 * i}::${type}`);
  const mode = `$${8 + 2 * REPLENISHMENT_COLUMNS.length}::text`;
  return withTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO inventory_items AS i (sku, description, unit_of_measure, reorder_point, reorder_quantity, maximum, settings_by,
         ${REPLENISHMENT_COLUMNS.map(([, column]) => column).join(', ')}, reorder_mode)
       VALUES ($1, $2, COALESCE($3, 'EA'), $4, $5, $6, $7, ${inserts.join(', ')}, COALESCE(${mode}, 'FIXED'))
       ON CONFLICT (sku) DO UPDATE SET
         reorder_point = EXCLUDED.reorder_point, reorder_quantity = EXCLUDED.reorder_quantity, maximum = EXCLUDED.maximum,
         ${sets.join(',\n         ')},
         reorder_mode = COALESCE(${mode}, i.reorder_mode),
         description = COALESCE($2, i.description), unit_of_measure = COALESCE($3, i.unit_of_measure), settings_by = EXCLUDED.settings_by, updated_at = now()`,
      [sku, settings.description ?? null, settings.unitOfMeasure ?? null, decimal(settings.reorderPoint), decimal(settings.reorderQuantity), decimal(settings.maximum), actor, ...given, settings.reorderMode ?? null],
    );
    await resettleItems(client, [sku], ctx);
  });
}
