import type { Dimension, Granularity, LossPreventionAlert, ReconciliationDay, ReconciliationStatus, ReplenishmentSuggestion, StockAcrossStores, StockState, StoreDaySales, StoreHealth } from '@tillstream/contracts';
import type { Queryable } from '@tillstream/db';

/** HQ's chain views, read side. Money in minor units; quantities as JSON numbers (exact to 3 decimals). */

/**
 * The sales windows these views read: every query below on
 * hq_sales_aggregates selects `granularity = 'day'` and the store, SKU or
 * category dimension. Declared to stores (GET /v1/stores/<id>/reads), which
 * upload only these: a view that reads another granularity or dimension
 * adds it here (stores pick it up within CATALOG_INTERVAL_MS; windows before
 * that are not uploaded again).
 */
export const READ_GRANULARITIES: readonly Granularity[] = ['day'];
export const READ_DIMENSIONS: readonly Dimension[] = ['store', 'sku', 'category'];

export async function salesByStore(db: Queryable, filter: { storeId?: string; from?: string; to?: string }): Promise<StoreDaySales[]> {
  const { rows } = await db.query<{ store_id: string; business_day: string; net: string; gross: string; discounts: string; tax: string; transactions: number; units: string; returns: number; revision: number }>(
    `SELECT store_id, to_char(business_day, 'YYYY-MM-DD') AS business_day, net, gross, discounts, tax, transactions, units, returns, revision
     FROM hq_sales_aggregates
     WHERE granularity = 'day' AND dimension = 'store'
       AND ($1::text IS NULL OR store_id = $1) AND ($2::date IS NULL OR business_day >= $2) AND ($3::date IS NULL OR business_day <= $3)
     ORDER BY business_day, store_id`,
    [filter.storeId ?? null, filter.from ?? null, filter.to ?? null],
  );
  return rows.map((r) => ({
    storeId: r.store_id,
    businessDay: r.business_day,
    net: Number(r.net),
    gross: Number(r.gross),
    discounts: Number(r.discounts),
    tax: Number(r.tax),
    transactions: r.transactions,
    units: Number(r.units),
    returns: r.returns,
    revision: r.revision,
  }));
}

/** Sales of one business day by SKU or category, over the chain or one store, best first. */
export async function salesByMember(db: Queryable, dimension: 'sku' | 'category', filter: { businessDay: string; storeId?: string; limit: number }) {
  const { rows } = await db.query<{ member: string; net: string; units: string; transactions: string; stores: string }>(
    `SELECT member, sum(net) AS net, sum(units) AS units, sum(transactions) AS transactions, count(DISTINCT store_id) AS stores
     FROM hq_sales_aggregates
     WHERE granularity = 'day' AND dimension = $1 AND business_day = $2 AND ($3::text IS NULL OR store_id = $3)
     GROUP BY member ORDER BY sum(net) DESC, member LIMIT $4`,
    [dimension, filter.businessDay, filter.storeId ?? null, filter.limit],
  );
  return rows.map((r) => ({ [dimension]: r.member, net: Number(r.net), units: Number(r.units), transactions: Number(r.transactions), stores: Number(r.stores) }));
}

export async function stockAcrossStores(db: Queryable, sku: string): Promise<StockAcrossStores> {
  const { rows } = await db.query<{ store_id: string; on_hand: string; state: StockState; unit_of_measure: string; updated_at: Date }>(
    'SELECT store_id, on_hand, state, unit_of_measure, updated_at FROM hq_inventory_levels WHERE sku = $1 ORDER BY store_id',
    [sku],
  );
  const stores = rows.map((r) => ({ storeId: r.store_id, onHand: Number(r.on_hand), state: r.state, unitOfMeasure: r.unit_of_measure, updatedAt: r.updated_at.toISOString() }));
  // Sum in thousandths: decimals stay exact.
  const totalMilli = rows.reduce((sum, r) => sum + Math.round(Number(r.on_hand) * 1000), 0);
  return { sku, total: totalMilli / 1000, stores };
}

export async function storeHealth(db: Queryable, offlineAfterSeconds: number): Promise<StoreHealth[]> {
  const { rows } = await db.query<{
    store_id: string;
    last_seen_at: Date;
    last_batch_at: Date | null;
    backlog_records: number;
    oldest_unsynced_at: Date | null;
    seen_ago: number;
    catalog_version: number | null;
  }>(
    `SELECT h.store_id, h.last_seen_at, h.last_batch_at, h.backlog_records, h.oldest_unsynced_at,
       extract(epoch FROM now() - h.last_seen_at)::float8 AS seen_ago, a.version AS catalog_version
     FROM hq_store_health h LEFT JOIN hq_catalog_acks a USING (store_id) ORDER BY h.store_id`,
  );
  const now = Date.now();
  return rows.map((r) => {
    const offline = r.seen_ago > offlineAfterSeconds;
    return {
      storeId: r.store_id,
      status: offline ? ('offline' as const) : ('online' as const),
      lastSeenAt: r.last_seen_at.toISOString(),
      offlineSeconds: offline ? Math.round(r.seen_ago) : 0,
      lastBatchAt: r.last_batch_at?.toISOString() ?? null,
      backlogRecords: r.backlog_records,
      /** Age of the oldest record the store had not uploaded, when it last reported. */
      syncLagSeconds: r.oldest_unsynced_at && r.backlog_records > 0 ? Math.max(0, Math.round((now - r.oldest_unsynced_at.getTime()) / 1000)) : 0,
      catalogVersion: r.catalog_version,
    };
  });
}

export async function reconciliation(db: Queryable, filter: { storeId?: string; businessDay?: string; status?: string }): Promise<ReconciliationDay[]> {
  const { rows } = await db.query<{
    store_id: string;
    business_day: string;
    status: ReconciliationStatus;
    details: unknown;
    received_at: Date;
    verified_at: Date | null;
    transactions: number;
    open_replays: string;
  }>(
    `SELECT m.store_id, to_char(m.business_day, 'YYYY-MM-DD') AS business_day, m.status, m.details, m.received_at, m.verified_at,
       (m.manifest->>'transactions')::int AS transactions,
       (SELECT count(*) FROM hq_replay_requests r WHERE r.store_id = m.store_id AND r.business_day = m.business_day AND r.answered_at IS NULL) AS open_replays
     FROM hq_manifests m
     WHERE ($1::text IS NULL OR m.store_id = $1) AND ($2::date IS NULL OR m.business_day = $2) AND ($3::text IS NULL OR m.status = $3)
     ORDER BY m.business_day DESC, m.store_id LIMIT 1000`,
    [filter.storeId ?? null, filter.businessDay ?? null, filter.status ?? null],
  );
  return rows.map((r) => ({
    storeId: r.store_id,
    businessDay: r.business_day,
    status: r.status,
    transactions: r.transactions,
    openReplays: Number(r.open_replays),
    details: r.details,
    receivedAt: r.received_at.toISOString(),
    verifiedAt: r.verified_at?.toISOString() ?? null,
  }));
}

/**
 * Every store's latest replenishment suggestion per SKU (as each store
 * computed it), in (store, SKU) order after `after`; `dueToday`: only those
 * to order on their business day. One more than `limit` tells whether a next page exists.
 */
export async function chainReplenishment(
  db: Queryable,
  options: { storeId?: string; sku?: string; dueToday: boolean; after?: [string, string]; limit: number },
): Promise<{ suggestions: ReplenishmentSuggestion[]; more: boolean }> {
  const { rows } = await db.query<{ data: ReplenishmentSuggestion }>(
    `SELECT data FROM hq_replenishment
     WHERE ($1::text IS NULL OR store_id = $1) AND ($2::text IS NULL OR sku = $2) AND (NOT $3::bool OR order_today)
       AND ($4::text IS NULL OR (store_id COLLATE "C", sku COLLATE "C") > ($4::text COLLATE "C", $5::text COLLATE "C"))
     ORDER BY store_id COLLATE "C", sku COLLATE "C" LIMIT $6`,
    [options.storeId ?? null, options.sku ?? null, options.dueToday, options.after?.[0] ?? null, options.after?.[1] ?? null, options.limit + 1],
  );
  return { suggestions: rows.slice(0, options.limit).map((r) => r.data), more: rows.length > options.limit };
}

/** Loss-prevention alerts of every store (or one), newest business day first. */
export async function lossPreventionAlerts(db: Queryable, q: { storeId?: string | undefined; businessDay?: string | undefined; member?: string | undefined; limit: number }): Promise<LossPreventionAlert[]> {
  const { rows } = await db.query<{ alert: LossPreventionAlert }>(
    `SELECT alert FROM hq_lossprevention_alerts
     WHERE ($1::text IS NULL OR store_id = $1) AND ($2::date IS NULL OR business_day = $2::date) AND ($3::text IS NULL OR member = $3)
     ORDER BY business_day DESC, detected_at DESC, store_id, alert_id
     LIMIT $4`,
    [q.storeId ?? null, q.businessDay ?? null, q.member ?? null, q.limit],
  );
  return rows.map((r) => r.alert);
}
