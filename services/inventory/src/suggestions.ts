import { inventoryReplenishment, milliToQuantity, type ReplenishmentSuggestion } from '@tillstream/contracts';
import { withTransaction, writeOutbox, type Pool, type Queryable } from '@tillstream/db';
import { OUTBOX_PUBLISHER } from './ledger.ts';
import { onOrder } from './operations.ts';
import { quantity, settingsOf, type SettingsColumns } from './queries.ts';
import { suggestReplenishment, type ForecastFigures } from './replenishment.ts';

/**
 * Replenishment suggestions from the store database: each item's settings
 * and on hand (the ledger), its open purchase order lines and its latest
 * forecast, through the one computation (replenishment.ts).
 */

/** The store's business day at `now` in `timeZone` (YYYY-MM-DD). */
export function businessDayAt(now: Date, timeZone: string): string {
  // en-CA formats dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

interface Row extends SettingsColumns {
  sku: string;
  description: string | null;
  on_hand: string;
  method: string | null;
  issued_at: Date | null;
  data_through: string | null;
  daily: Array<{ businessDay: string; mean: number }> | null;
  daily_rmse: string | null;
}


export interface SuggestionOptions {
  storeId: string;
  today: string;
  now: Date;
  /** One SKU only. */
  sku?: string;
  /** Only what to order today. */
  dueToday?: boolean;
}

/**
 * Every SKU's suggestion, in SKU order, leaving out SKUs with nothing to
 * suggest from (no forecast and no reorder point); `dueToday`: only those to
 * order today.
 */
export async function replenishmentSuggestions(db: Queryable, options: SuggestionOptions): Promise<ReplenishmentSuggestion[]> {
  const { rows } = await db.query<Row>(
    `SELECT i.sku, i.description, i.on_hand, i.reorder_point, i.reorder_quantity, i.maximum, i.lead_time_days, i.review_period_days,
       i.pack_size, i.minimum_order, i.service_level, i.reorder_mode, f.method, f.issued_at, to_char(f.data_through, 'YYYY-MM-DD') AS data_through, f.daily, f.daily_rmse
     FROM inventory_items i LEFT JOIN inventory_forecasts f USING (sku)
     WHERE (f.sku IS NOT NULL OR i.reorder_point IS NOT NULL) AND ($1::text IS NULL OR i.sku = $1::text)
     ORDER BY i.sku COLLATE "C"`,
    [options.sku ?? null],
  );
  const ordered = await onOrder(db, options.sku === undefined ? null : [options.sku]);
  const computedAt = options.now.toISOString();
  const suggestions = rows.map((r) => {
    const forecast: ForecastFigures | null =
      r.method === null ? null : { method: r.method, issuedAt: r.issued_at!.toISOString(), dataThrough: r.data_through!, daily: r.daily!, dailyRmse: Number(r.daily_rmse) };
    return suggestReplenishment({
      storeId: options.storeId,
      sku: r.sku,
      description: r.description,
      today: options.today,
      onHand: quantity(r.on_hand)!,
      onOrder: milliToQuantity(ordered.get(r.sku) ?? 0),
      settings: settingsOf(r),
      forecast,
      computedAt,
    });
  });
  return options.dueToday ? suggestions.filter((s) => s.orderToday) : suggestions;
}

/** A suggestion without the time it was computed: what changed, if this differs. */
const fingerprint = (s: ReplenishmentSuggestion) => JSON.stringify({ ...s, computedAt: undefined });

/**
 * Publishes (inventory.replenishment.v1, through the event outbox) each
 * SKU's suggestion that differs from the one last published, remembering
 * what it published in the same transaction; returns how many. Run every
 * REPLENISHMENT_PUBLISH_MS: a SKU selling all day is published at most once
 * per interval, and sync coalesces further before HQ.
 */
export async function publishChangedSuggestions(pool: Pool, options: { storeId: string; timeZone: string; now: Date }): Promise<number> {
  return withTransaction(pool, async (client) => {
    const suggestions = await replenishmentSuggestions(client, { storeId: options.storeId, today: businessDayAt(options.now, options.timeZone), now: options.now });
    const { rows } = await client.query<{ sku: string; fingerprint: string }>('SELECT sku, fingerprint FROM inventory_replenishment_published');
    const published = new Map(rows.map((r) => [r.sku, r.fingerprint]));
    const changed = suggestions.filter((s) => published.get(s.sku) !== fingerprint(s));
    if (changed.length === 0) return 0;
    await writeOutbox(client, OUTBOX_PUBLISHER, changed.map((data) => ({ topic: inventoryReplenishment.name, data })));
    await client.query(
      `INSERT INTO inventory_replenishment_published AS p (sku, fingerprint) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (sku) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, published_at = now()`,
      [changed.map((s) => s.sku), changed.map(fingerprint)],
    );
    return changed.length;
  });
}
