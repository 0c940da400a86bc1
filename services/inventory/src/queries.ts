import { decimalToMilli, milliToQuantity, type AlertType, type ReorderMode, type InventoryAlert, type InventoryItem, type MovementKind, type StockMovement, type StockState } from '@tillstream/contracts';
import type { Queryable } from '@tillstream/db';

/** Read side of the ledger for the store API. */

/** The store API's shapes (@tillstream/contracts): what these queries return is what the routes answer. */
export type ItemView = InventoryItem;
export type MovementView = StockMovement;

/** An item's settings as inventory_items stores them. */
export interface SettingsColumns {
  reorder_point: string | null;
  reorder_quantity: string | null;
  maximum: string | null;
  lead_time_days: number | null;
  review_period_days: number | null;
  pack_size: string | null;
  minimum_order: string | null;
  service_level: string | null;
  reorder_mode: ReorderMode;
}

interface ItemRow extends SettingsColumns {
  sku: string;
  description: string | null;
  category: string | null;
  unit_of_measure: string;
  on_hand: string;
  state: StockState;
  settings_by: string | null;
  last_movement_at: Date | null;
  updated_at: Date;
}

const ITEM = `sku, description, category, unit_of_measure, on_hand, state, reorder_point, reorder_quantity, maximum,
  lead_time_days, review_period_days, pack_size, minimum_order, service_level, reorder_mode, settings_by, last_movement_at, updated_at`;

export const quantity = (decimal: string | null) => (decimal === null ? null : milliToQuantity(decimalToMilli(decimal)));

/** An item's settings as the API and the replenishment computation read them (REPLENISHMENT_DEFAULTS apply where null). */
export function settingsOf(r: SettingsColumns): Omit<InventoryItem['settings'], 'updatedBy'> {
  return {
    reorderPoint: quantity(r.reorder_point),
    reorderQuantity: quantity(r.reorder_quantity),
    maximum: quantity(r.maximum),
    leadTimeDays: r.lead_time_days,
    reviewPeriodDays: r.review_period_days,
    packSize: quantity(r.pack_size),
    minimumOrder: quantity(r.minimum_order),
    serviceLevel: r.service_level === null ? null : Number(r.service_level),
    reorderMode: r.reorder_mode,
  };
}

function toItem(r: ItemRow): ItemView {
  return {
    sku: r.sku,
    description: r.description,
    category: r.category,
    unitOfMeasure: r.unit_of_measure,
    onHand: quantity(r.on_hand)!,
    state: r.state,
    settings: { ...settingsOf(r), updatedBy: r.settings_by },
    lastMovementAt: r.last_movement_at?.toISOString() ?? null,
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function getItem(db: Queryable, sku: string): Promise<ItemView | undefined> {
  const { rows } = await db.query<ItemRow>(`SELECT ${ITEM} FROM inventory_items WHERE sku = $1`, [sku]);
  return rows[0] && toItem(rows[0]);
}

/** A SKU's latest movements, newest first. */
export async function latestMovements(db: Queryable, sku: string, limit: number): Promise<MovementView[]> {
  const { rows } = await db.query<{
    id: string;
    kind: MovementKind;
    quantity: string;
    occurred_at: Date;
    recorded_at: Date;
    transaction_id: string | null;
    line_number: number | null;
    operation_id: string | null;
    reference: string | null;
    reason: string | null;
    actor: string | null;
  }>(
    `SELECT m.id, m.kind, m.quantity, m.occurred_at, m.recorded_at, m.transaction_id, m.line_number, m.operation_id, o.reference, o.reason, o.actor
     FROM inventory_movements m LEFT JOIN inventory_operations o ON o.id = m.operation_id
     WHERE m.sku = $1 ORDER BY m.id DESC LIMIT $2`,
    [sku, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    quantity: quantity(r.quantity)!,
    occurredAt: r.occurred_at.toISOString(),
    recordedAt: r.recorded_at.toISOString(),
    transactionId: r.transaction_id,
    lineNumber: r.line_number,
    operationId: r.operation_id,
    reference: r.reference,
    reason: r.reason,
    actor: r.actor,
  }));
}

/** Items in SKU order after `after`, optionally only those in `states`; one more than `limit` tells whether a next page exists. */
export async function listItems(db: Queryable, options: { states?: StockState[]; after?: string; limit: number }): Promise<{ items: ItemView[]; more: boolean }> {
  const { rows } = await db.query<ItemRow>(
    `SELECT ${ITEM} FROM inventory_items
     WHERE ($1::text[] IS NULL OR state = ANY($1::text[]))
       AND ($2::text IS NULL OR sku COLLATE "C" > $2::text)
     ORDER BY sku COLLATE "C" LIMIT $3`,
    [options.states ?? null, options.after ?? null, options.limit + 1],
  );
  return { items: rows.slice(0, options.limit).map(toItem), more: rows.length > options.limit };
}

/** Where a page of the alert feed ends: the last alert's time and id. */
export interface AlertCursor {
  at: string;
  alertId: string;
}

/** The store's alerts, newest first, optionally of some types or one SKU, before `before`; one more than `limit` tells whether a next page exists. */
export async function latestAlerts(
  db: Queryable,
  options: { types?: AlertType[]; sku?: string; before?: AlertCursor; limit: number },
): Promise<{ alerts: InventoryAlert[]; more: boolean }> {
  const { rows } = await db.query<{ data: InventoryAlert }>(
    `SELECT data FROM inventory_alert_log
     WHERE ($1::text[] IS NULL OR type = ANY($1::text[]))
       AND ($2::text IS NULL OR sku = $2::text)
       AND ($3::timestamptz IS NULL OR (at, alert_id) < ($3::timestamptz, $4::text))
     ORDER BY at DESC, alert_id DESC LIMIT $5`,
    [options.types ?? null, options.sku ?? null, options.before?.at ?? null, options.before?.alertId ?? null, options.limit + 1],
  );
  return { alerts: rows.slice(0, options.limit).map((r) => r.data), more: rows.length > options.limit };
}
