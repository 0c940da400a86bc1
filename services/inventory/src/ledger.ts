import {
  decimalToMilli,
  inventoryAlerts,
  inventoryLevels,
  milliToDecimal,
  milliToQuantity,
  toMilli,
  type InventoryAlert,
  type InventoryLevel,
  countingLines,
  firstCopies,
  postVoids,
  salesSign,
  type MovementKind,
  type PosRecord,
  type StockState,
} from '@tillstream/contracts';
import { HELD_VOID_TABLES, holdVoids, numberArray, releaseVoids, textArray, writeOutbox, type OutboxEvent, type PoolClient } from '@tillstream/db';
import { nextState, type AlertPolicy } from './alerts.ts';

/**
 * The stock ledger's SQL (tables: packages/db/migrations/store/*_inventory.sql).
 * Every statement takes a whole batch (UNNEST), so catching up on the POS
 * topic costs a handful of round trips per few hundred transactions, never
 * one per line. Quantities cross into SQL as exact decimal strings and come
 * back as integer thousandths ("milli").
 */

/** A movement as written: what the levels and the API responses are computed from. */
export interface Movement {
  id: string;
  sku: string;
  kind: MovementKind;
  milli: number;
  occurredAt: Date;
}

/** What the ledger knows of a SKU it has not seen before (from a POS line or an API body). */
export interface ItemFacts {
  description?: string | undefined;
  category?: string | undefined;
  unitOfMeasure?: string | undefined;
}

interface MovementRow {
  id: string;
  sku: string;
  kind: MovementKind;
  quantity: string;
  occurred_at: Date;
}

const toMovement = (r: MovementRow): Movement => ({ id: r.id, sku: r.sku, kind: r.kind, milli: decimalToMilli(r.quantity), occurredAt: r.occurred_at });

const RETURNING_MOVEMENT = 'RETURNING id, sku, kind, quantity, occurred_at';

/**
 * Movements of one SKU and kind booked together, as the levels need them:
 * how many, their sum, and the latest (highest id). A catch-up batch books
 * thousands of lines over a few hundred SKUs; PostgreSQL sums them where it
 * writes them, so only the groups cross back to this process.
 */
export interface MovementGroup {
  sku: string;
  kind: MovementKind;
  count: number;
  milli: number;
  last: Movement;
}

/** Movements grouped by SKU and kind (the operations path, and post-void reversals, which return their few rows). */
export function groupMovements(movements: readonly Movement[]): MovementGroup[] {
  const groups = new Map<string, MovementGroup>();
  for (const m of movements) {
    const key = `${m.kind}\u0000${m.sku}`;
    const group = groups.get(key);
    if (!group) groups.set(key, { sku: m.sku, kind: m.kind, count: 1, milli: m.milli, last: m });
    else {
      group.count++;
      group.milli += m.milli;
      if (BigInt(m.id) > BigInt(group.last.id)) group.last = m;
    }
  }
  return [...groups.values()];
}

interface GroupRow extends MovementRow {
  n: string;
  total: string;
}

/**
 * Books a batch of POS transactions by the POS booking rules
 * (@tillstream/contracts pos-rules.ts): each transaction once (retried copies
 * change nothing), one movement per counting line (a sale's take stock out),
 * nothing for training mode or NO_SALE; a POST_VOID reverses its original's
 * movements, now if the original is known, else as soon as it arrives.
 *
 * Per line, only what differs from line to line crosses to PostgreSQL (SKU,
 * quantity in thousandths, line number, the index of its transaction); the
 * transaction's id, type and time go once per transaction and are joined
 * back by that index. The movements come back summed per SKU and kind.
 *
 * The lines' INSERT has no ON CONFLICT: only the transactions that the
 * INSERT into inventory_pos_transactions above recorded for the first time
 * (in the same database transaction) have their lines written, so a line
 * can never be there already; the unique key
 * (inventory_movements_pos_line) still holds, and a breach would fail the
 * batch loudly instead of being skipped. ON CONFLICT's speculative insertion
 * cost about a fifth of the statement (BENCHMARKS.md, issue 19).
 */
export async function recordPosTransactions(
  client: PoolClient,
  records: readonly PosRecord[],
): Promise<{ groups: MovementGroup[]; items: Map<string, ItemFacts>; booked: number }> {
  const unique = firstCopies(records);

  const inserted = await client.query<{ transaction_id: string }>(
    `INSERT INTO inventory_pos_transactions (transaction_id, type, training, kafka_partition, kafka_offset)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::int[], $5::bigint[])
     ON CONFLICT (transaction_id) DO NOTHING
     RETURNING transaction_id`,
    [
      textArray(unique.map((r) => r.tx.transactionId)),
      textArray(unique.map((r) => r.tx.type)),
      unique.map((r) => r.tx.trainingMode),
      numberArray(unique.map((r) => r.partition)),
      numberArray(unique.map((r) => r.offset)),
    ],
  );
  const isNew = new Set(inserted.rows.map((r) => r.transaction_id));
  // Booked for the first time; the rules (countingLines, postVoids) leave training transactions out.
  const fresh = unique.filter((r) => isNew.has(r.tx.transactionId)).map((r) => r.tx);

  const items = new Map<string, ItemFacts>();
  const txs = { id: [] as string[], kind: [] as string[], at: [] as string[] };
  const lines = { sku: [] as string[], milli: [] as number[], line: [] as number[], tx: [] as number[] };
  for (const tx of fresh) {
    const counted = countingLines(tx);
    if (counted.length === 0) continue;
    txs.id.push(tx.transactionId);
    txs.kind.push(tx.type);
    txs.at.push(tx.occurredAt);
    const index = txs.id.length; // 1-based, as WITH ORDINALITY counts
    // Stock moves against sales: a sale's lines take stock out, a return's put it back.
    const sign = -salesSign(tx);
    for (const line of counted) {
      lines.sku.push(line.sku);
      lines.milli.push(sign * toMilli(line.quantity));
      lines.line.push(line.lineNumber);
      lines.tx.push(index);
      if (!items.has(line.sku)) items.set(line.sku, { description: line.description, category: line.category, unitOfMeasure: line.unitOfMeasure });
    }
  }
  const groups: MovementGroup[] = [];
  if (lines.sku.length > 0) {
    // Ids follow the lines' order (ORDER BY l.n), so a SKU's latest movement is its last line in the batch.
    const { rows } = await client.query<GroupRow>(
      `WITH t AS (
         SELECT * FROM unnest($5::uuid[], $6::text[], $7::timestamptz[]) WITH ORDINALITY AS t(transaction_id, kind, occurred_at, n)
       ), booked AS (
         INSERT INTO inventory_movements (sku, kind, quantity, transaction_id, line_number, occurred_at)
         SELECT l.sku, t.kind, l.milli::numeric / 1000, t.transaction_id, l.line_number, t.occurred_at
         FROM unnest($1::text[], $2::bigint[], $3::int[], $4::int[]) WITH ORDINALITY AS l(sku, milli, line_number, tx, n)
         JOIN t ON t.n = l.tx
         ORDER BY l.n
         ${RETURNING_MOVEMENT}
       )
       SELECT DISTINCT ON (sku, kind) id, sku, kind, quantity, occurred_at, count(*) OVER w AS n, sum(quantity) OVER w AS total
       FROM booked WINDOW w AS (PARTITION BY sku, kind)
       ORDER BY sku, kind, id DESC`,
      // Built in one pass each (packages/db arrays.ts): node-postgres escaped each element with regular expressions.
      [textArray(lines.sku), numberArray(lines.milli), numberArray(lines.line), numberArray(lines.tx), textArray(txs.id), textArray(txs.kind), textArray(txs.at)],
    );
    for (const r of rows) groups.push({ sku: r.sku, kind: r.kind, count: Number(r.n), milli: decimalToMilli(r.total), last: toMovement(r) });
  }

  await holdVoids(client, HELD_VOID_TABLES.inventory, postVoids(fresh));
  groups.push(...groupMovements(await reverseVoided(client)));
  return { groups, items, booked: isNew.size };
}

/** Reverses the movements of every original whose void was held and which is now known (in this batch or any earlier one). */
async function reverseVoided(client: PoolClient): Promise<Movement[]> {
  const released = await releaseVoids(client, HELD_VOID_TABLES.inventory);
  if (released.length === 0) return [];
  const { rows } = await client.query<MovementRow>(
    `INSERT INTO inventory_movements (sku, kind, quantity, transaction_id, line_number, occurred_at)
     SELECT m.sku, 'POST_VOID', -m.quantity, r.void_id, m.line_number, r.occurred_at
     FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS r(original_id, void_id, occurred_at)
     JOIN inventory_movements m ON m.transaction_id = r.original_id
     ORDER BY m.id
     ON CONFLICT ON CONSTRAINT inventory_movements_pos_line DO NOTHING
     ${RETURNING_MOVEMENT}`,
    [released.map((v) => v.originalTransactionId), released.map((v) => v.voidTransactionId), released.map((v) => v.occurredAt)],
  );
  return rows.map(toMovement);
}

export interface OperationMovement {
  sku: string;
  kind: MovementKind;
  milli: number;
}

/** Writes the movements of one store-API operation. */
export async function recordOperationMovements(client: PoolClient, operationId: string, moves: readonly OperationMovement[]): Promise<Movement[]> {
  const { rows } = await client.query<MovementRow>(
    `INSERT INTO inventory_movements (sku, kind, quantity, operation_id, occurred_at)
     SELECT sku, kind, quantity, $4, now() FROM unnest($1::text[], $2::text[], $3::numeric[]) WITH ORDINALITY AS u(sku, kind, quantity, n)
     ORDER BY n
     ${RETURNING_MOVEMENT}`,
    [moves.map((m) => m.sku), moves.map((m) => m.kind), moves.map((m) => milliToDecimal(m.milli)), operationId],
  );
  return rows.map(toMovement);
}

export interface LevelChange {
  sku: string;
  onHandMilli: number;
  state: StockState;
  previousState: StockState;
  level: InventoryLevel;
  alert?: InventoryAlert;
}

interface ItemRow {
  sku: string;
  on_hand: string;
  state: StockState;
  reorder_point: string | null;
  reorder_quantity: string | null;
  unit_of_measure: string;
  last_movement_id: string | null;
  last_movement_kind: MovementKind | null;
  last_movement_quantity: string | null;
  last_movement_at: Date | null;
  updated_at: Date;
}

const ITEM_COLUMNS =
  'sku, on_hand, state, reorder_point, reorder_quantity, unit_of_measure, last_movement_id, last_movement_kind, last_movement_quantity, last_movement_at, updated_at';

/** This service's name in the event outbox. */
export const OUTBOX_PUBLISHER = 'inventory';

export interface LedgerContext {
  storeId: string;
  policy: AlertPolicy;
}

/**
 * Adds movements (grouped: groupMovements) to their SKUs' levels (creating SKUs first seen), moves
 * each SKU's alert state, and writes the level events and alerts to the
 * outbox, all in the caller's transaction. SKUs are locked in sorted order,
 * so the consumer and the API never deadlock on each other.
 */
export async function applyMovements(client: PoolClient, groups: readonly MovementGroup[], items: ReadonlyMap<string, ItemFacts>, ctx: LedgerContext): Promise<Map<string, LevelChange>> {
  if (groups.length === 0) return new Map();
  const perSku = new Map<string, { delta: number; last: Movement }>();
  for (const g of groups) {
    const entry = perSku.get(g.sku);
    if (!entry) perSku.set(g.sku, { delta: g.milli, last: g.last });
    else {
      entry.delta += g.milli;
      if (BigInt(g.last.id) > BigInt(entry.last.id)) entry.last = g.last;
    }
  }
  const skus = [...perSku.keys()].sort();
  const col = <T>(f: (sku: string) => T) => skus.map(f);
  const { rows } = await client.query<ItemRow>(
    `INSERT INTO inventory_items AS i
       (sku, description, category, unit_of_measure, on_hand, last_movement_id, last_movement_kind, last_movement_quantity, last_movement_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::bigint[], $7::text[], $8::numeric[], $9::timestamptz[])
     ON CONFLICT (sku) DO UPDATE SET
       on_hand = i.on_hand + EXCLUDED.on_hand,
       description = COALESCE(i.description, EXCLUDED.description),
       category = COALESCE(i.category, EXCLUDED.category),
       last_movement_id = EXCLUDED.last_movement_id,
       last_movement_kind = EXCLUDED.last_movement_kind,
       last_movement_quantity = EXCLUDED.last_movement_quantity,
       last_movement_at = EXCLUDED.last_movement_at,
       updated_at = now()
     RETURNING ${ITEM_COLUMNS}`,
    [
      skus,
      col((s) => items.get(s)?.description ?? null),
      col((s) => items.get(s)?.category ?? null),
      col((s) => items.get(s)?.unitOfMeasure ?? 'EA'),
      col((s) => milliToDecimal(perSku.get(s)!.delta)),
      col((s) => perSku.get(s)!.last.id),
      col((s) => perSku.get(s)!.last.kind),
      col((s) => milliToDecimal(perSku.get(s)!.last.milli)),
      col((s) => perSku.get(s)!.last.occurredAt.toISOString()),
    ],
  );
  return settleStates(client, rows, ctx);
}

/**
 * Moves each item's alert state (with hysteresis), stores the new states,
 * and writes a level event per item (and an alert where one is due) to the
 * outbox.
 */
async function settleStates(client: PoolClient, rows: readonly ItemRow[], ctx: LedgerContext): Promise<Map<string, LevelChange>> {
  const changes = new Map<string, LevelChange>();
  const changed: { sku: string; state: StockState }[] = [];
  for (const row of rows) {
    const onHandMilli = decimalToMilli(row.on_hand);
    const reorderPoint = row.reorder_point === null ? null : decimalToMilli(row.reorder_point);
    const transition = nextState(row.state, onHandMilli, reorderPoint, ctx.policy);
    if (transition.state !== row.state) changed.push({ sku: row.sku, state: transition.state });
    const at = row.updated_at.toISOString();
    const level: InventoryLevel = {
      storeId: ctx.storeId,
      sku: row.sku,
      onHand: milliToQuantity(onHandMilli),
      unitOfMeasure: row.unit_of_measure as InventoryLevel['unitOfMeasure'],
      state: transition.state,
      lastMovement:
        row.last_movement_id === null
          ? null
          : {
              id: row.last_movement_id,
              kind: row.last_movement_kind!,
              quantity: milliToQuantity(decimalToMilli(row.last_movement_quantity!)),
              at: row.last_movement_at!.toISOString(),
            },
      updatedAt: at,
    };
    const change: LevelChange = { sku: row.sku, onHandMilli, state: transition.state, previousState: row.state, level };
    if (transition.alert) {
      change.alert = {
        alertId: `${row.sku}:${row.last_movement_id ?? 'settings'}:${row.updated_at.getTime()}`,
        storeId: ctx.storeId,
        sku: row.sku,
        type: transition.alert,
        state: transition.state,
        previousState: row.state,
        onHand: level.onHand,
        reorderPoint: reorderPoint === null ? null : milliToQuantity(reorderPoint),
        reorderQuantity: row.reorder_quantity === null ? null : milliToQuantity(decimalToMilli(row.reorder_quantity)),
        at,
      };
    }
    changes.set(row.sku, change);
  }
  if (changed.length > 0) {
    await client.query(
      `UPDATE inventory_items i SET state = u.state FROM unnest($1::text[], $2::text[]) AS u(sku, state) WHERE i.sku = u.sku`,
      [changed.map((c) => c.sku), changed.map((c) => c.state)],
    );
  }
  const events: OutboxEvent[] = [];
  for (const change of changes.values()) {
    events.push({ topic: inventoryLevels.name, data: change.level });
    if (change.alert) events.push({ topic: inventoryAlerts.name, data: change.alert });
  }
  await writeOutbox(client, OUTBOX_PUBLISHER, events);
  await logAlerts(client, [...changes.values()].flatMap((c) => (c.alert ? [c.alert] : [])));
  return changes;
}

/** How long the store keeps its alert log (the feed behind GET /v1/inventory/alerts). */
export const ALERT_LOG_DAYS = 90;

/** Adds alerts to the store's alert log (a replayed alert, same id, is there already) and prunes what is past keeping. */
async function logAlerts(client: PoolClient, alerts: readonly InventoryAlert[]): Promise<void> {
  if (alerts.length === 0) return;
  await client.query(
    `INSERT INTO inventory_alert_log (alert_id, sku, type, at, data)
     SELECT a->>'alertId', a->>'sku', a->>'type', (a->>'at')::timestamptz, a FROM unnest($1::jsonb[]) AS u(a)
     ON CONFLICT (alert_id) DO NOTHING`,
    [alerts.map((a) => JSON.stringify(a))],
  );
  await client.query(`DELETE FROM inventory_alert_log WHERE at < now() - make_interval(days => $1)`, [ALERT_LOG_DAYS]);
}

/** Re-evaluates items after their settings changed (a higher reorder point can make a SKU LOW at once). */
export async function resettleItems(client: PoolClient, skus: readonly string[], ctx: LedgerContext): Promise<Map<string, LevelChange>> {
  const { rows } = await client.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM inventory_items WHERE sku = ANY($1::text[]) ORDER BY sku COLLATE "C" FOR UPDATE`, [skus]);
  return settleStates(client, rows, ctx);
}

/** Current on-hand of SKUs (absent: unknown SKU), locking their rows for the rest of the transaction. */
export async function lockOnHand(client: PoolClient, skus: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await client.query<{ sku: string; on_hand: string }>(
    'SELECT sku, on_hand FROM inventory_items WHERE sku = ANY($1::text[]) ORDER BY sku COLLATE "C" FOR UPDATE',
    [skus],
  );
  return new Map(rows.map((r) => [r.sku, decimalToMilli(r.on_hand)]));
}
