import type { InventoryAlert, InventoryLevel, LossPreventionAlert, PosTransaction, ReplenishmentSuggestion, SalesAggregate } from '@tillstream/contracts';
import type { Queryable } from '@tillstream/db';

/**
 * HQ's chain views, written by HQ's consumers inside their offset
 * transaction. Each write is keyed by the record's own identity, so a record
 * seen twice (a batch re-sent after a crash, a replay) changes nothing:
 * transactions and alerts are inserted once; aggregates move only to a
 * higher revision; levels only to a later movement.
 */

/** `requestIds[i]`: the request that brought `txs[i]` in at its store's ingest, as uploaded (none from older stores). */
export async function writeTransactions(db: Queryable, txs: readonly PosTransaction[], requestIds: ReadonlyArray<string | undefined> = []): Promise<void> {
  if (txs.length === 0) return;
  const rows = txs.map((tx, i) => ({
    store_id: tx.storeId,
    transaction_id: tx.transactionId,
    terminal_id: tx.terminalId,
    sequence_number: tx.sequenceNumber,
    business_day: tx.businessDay,
    type: tx.type,
    training: tx.trainingMode,
    net: tx.totals.net,
    grand: tx.totals.grand,
    tenders: tx.tenders.map((t) => ({ type: t.type, amount: t.amount, change: t.change ?? 0 })),
    occurred_at: tx.occurredAt,
    request_id: requestIds[i] ?? null,
  }));
  await db.query(
    `INSERT INTO hq_transactions (store_id, transaction_id, terminal_id, sequence_number, business_day, type, training, net, grand, tenders, occurred_at, request_id)
     SELECT store_id, transaction_id, terminal_id, sequence_number, business_day, type, training, net, grand, tenders, occurred_at, request_id
     FROM jsonb_to_recordset($1::jsonb) AS r(store_id text, transaction_id uuid, terminal_id text, sequence_number bigint, business_day date,
       type text, training boolean, net bigint, grand bigint, tenders jsonb, occurred_at timestamptz, request_id text)
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

/** The latest of each key in a batch (an upsert may not touch a row twice in one statement). */
function latestBy<T>(items: readonly T[], key: (item: T) => string, newer: (a: T, b: T) => boolean): T[] {
  const latest = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    const seen = latest.get(k);
    if (!seen || newer(item, seen)) latest.set(k, item);
  }
  return [...latest.values()];
}

export async function writeAggregates(db: Queryable, aggregates: readonly SalesAggregate[]): Promise<void> {
  const rows = latestBy(aggregates, (a) => `${a.storeId}|${a.granularity}|${a.windowStart}|${a.dimension}|${a.member}`, (a, b) => a.revision > b.revision).map((a) => ({
    store_id: a.storeId,
    granularity: a.granularity,
    window_start: a.windowStart,
    dimension: a.dimension,
    member: a.member,
    business_day: a.businessDay,
    revision: a.revision,
    units: a.figures.units,
    gross: a.figures.gross,
    discounts: a.figures.discounts,
    net: a.figures.net,
    tax: a.figures.tax,
    transactions: a.figures.transactions,
    items: a.figures.items,
    returns: a.figures.returns,
    returns_units: a.figures.returnsUnits,
    returns_amount: a.figures.returnsAmount,
    updated_at: a.updatedAt,
  }));
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO hq_sales_aggregates AS t (store_id, granularity, window_start, dimension, member, business_day, revision, units, gross, discounts, net, tax,
       transactions, items, returns, returns_units, returns_amount, updated_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(store_id text, granularity text, window_start timestamptz, dimension text, member text,
       business_day date, revision integer, units numeric, gross bigint, discounts bigint, net bigint, tax bigint, transactions integer,
       items numeric, returns integer, returns_units numeric, returns_amount bigint, updated_at timestamptz)
     ON CONFLICT (store_id, granularity, window_start, dimension, member) DO UPDATE SET
       business_day = EXCLUDED.business_day, revision = EXCLUDED.revision, units = EXCLUDED.units, gross = EXCLUDED.gross,
       discounts = EXCLUDED.discounts, net = EXCLUDED.net, tax = EXCLUDED.tax, transactions = EXCLUDED.transactions, items = EXCLUDED.items,
       returns = EXCLUDED.returns, returns_units = EXCLUDED.returns_units, returns_amount = EXCLUDED.returns_amount, updated_at = EXCLUDED.updated_at
     WHERE t.revision < EXCLUDED.revision`,
    [JSON.stringify(rows)],
  );
}

const movementOf = (level: InventoryLevel) => (level.lastMovement ? BigInt(level.lastMovement.id) : -1n);

export async function writeLevels(db: Queryable, levels: readonly InventoryLevel[]): Promise<void> {
  const rows = latestBy(
    levels,
    (l) => `${l.storeId}|${l.sku}`,
    (a, b) => movementOf(a) > movementOf(b) || (movementOf(a) === movementOf(b) && a.updatedAt > b.updatedAt),
  ).map((l) => ({
    store_id: l.storeId,
    sku: l.sku,
    on_hand: l.onHand,
    state: l.state,
    unit_of_measure: l.unitOfMeasure,
    last_movement_id: l.lastMovement?.id ?? null,
    updated_at: l.updatedAt,
  }));
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO hq_inventory_levels AS t (store_id, sku, on_hand, state, unit_of_measure, last_movement_id, updated_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(store_id text, sku text, on_hand numeric, state text, unit_of_measure text,
       last_movement_id bigint, updated_at timestamptz)
     ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = EXCLUDED.on_hand, state = EXCLUDED.state, unit_of_measure = EXCLUDED.unit_of_measure,
       last_movement_id = EXCLUDED.last_movement_id, updated_at = EXCLUDED.updated_at
     WHERE (coalesce(EXCLUDED.last_movement_id, -1), EXCLUDED.updated_at) > (coalesce(t.last_movement_id, -1), t.updated_at)`,
    [JSON.stringify(rows)],
  );
}

export async function writeAlerts(db: Queryable, alerts: readonly InventoryAlert[]): Promise<void> {
  if (alerts.length === 0) return;
  const rows = alerts.map((a) => ({ store_id: a.storeId, alert_id: a.alertId, sku: a.sku, type: a.type, on_hand: a.onHand, at: a.at }));
  await db.query(
    `INSERT INTO hq_inventory_alerts (store_id, alert_id, sku, type, on_hand, at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(store_id text, alert_id text, sku text, type text, on_hand numeric, at timestamptz)
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

/** Each store's latest replenishment suggestion per SKU: one computed earlier (a replay, a re-sent batch) changes nothing. */
export async function writeReplenishment(db: Queryable, suggestions: readonly ReplenishmentSuggestion[]): Promise<void> {
  const rows = latestBy(
    suggestions,
    (r) => `${r.storeId}|${r.sku}`,
    (a, b) => Date.parse(a.computedAt) > Date.parse(b.computedAt),
  ).map((r) => ({
    store_id: r.storeId,
    sku: r.sku,
    business_day: r.businessDay,
    order_today: r.orderToday,
    order_on: r.orderOn,
    quantity: r.quantity,
    data: r,
    computed_at: r.computedAt,
  }));
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO hq_replenishment AS t (store_id, sku, business_day, order_today, order_on, quantity, data, computed_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(store_id text, sku text, business_day date, order_today boolean, order_on date, quantity numeric, data jsonb, computed_at timestamptz)
     ON CONFLICT (store_id, sku) DO UPDATE SET business_day = EXCLUDED.business_day, order_today = EXCLUDED.order_today, order_on = EXCLUDED.order_on,
       quantity = EXCLUDED.quantity, data = EXCLUDED.data, computed_at = EXCLUDED.computed_at
     WHERE EXCLUDED.computed_at > t.computed_at`,
    [JSON.stringify(rows)],
  );
}

/** Loss-prevention alerts, once each per (store, alertId): a re-sent batch changes nothing. */
export async function writeLossPreventionAlerts(db: Queryable, alerts: readonly LossPreventionAlert[]): Promise<void> {
  if (alerts.length === 0) return;
  const rows = alerts.map((a) => ({ store_id: a.storeId, alert_id: a.alertId, business_day: a.businessDay, member: a.member, detected_at: a.detectedAt, alert: a }));
  await db.query(
    `INSERT INTO hq_lossprevention_alerts (store_id, alert_id, business_day, member, detected_at, alert)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(store_id text, alert_id text, business_day date, member text, detected_at timestamptz, alert jsonb)
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(rows)],
  );
}
