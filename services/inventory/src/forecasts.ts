import type { ForecastDemand } from '@tillstream/contracts';
import type { PoolClient } from '@tillstream/db';

/**
 * The store's demand forecasts (forecast.demand.v1, published by trends),
 * kept by inventory as the latest per SKU for replenishment. Booked in the
 * consumer's transaction, with its offset (effectively once). The topic is
 * compacted and may be replayed: a forecast older than the one stored
 * (issuedAt) changes nothing, so a replay never rolls a SKU back.
 */
export async function storeForecasts(client: PoolClient, forecasts: readonly ForecastDemand[]): Promise<number> {
  // One row per SKU per statement (ON CONFLICT cannot touch a row twice): the newest of the batch.
  const newest = new Map<string, ForecastDemand>();
  for (const f of forecasts) {
    const seen = newest.get(f.sku);
    if (!seen || Date.parse(f.issuedAt) >= Date.parse(seen.issuedAt)) newest.set(f.sku, f);
  }
  if (newest.size === 0) return 0;
  const rows = [...newest.values()].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  const { rowCount } = await client.query(
    `INSERT INTO inventory_forecasts AS f (sku, method, issued_at, data_through, daily, daily_rmse)
     SELECT sku, method, issued_at, data_through, daily, daily_rmse
     FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::date[], $5::jsonb[], $6::numeric[]) AS u(sku, method, issued_at, data_through, daily, daily_rmse)
     ON CONFLICT (sku) DO UPDATE SET method = EXCLUDED.method, issued_at = EXCLUDED.issued_at, data_through = EXCLUDED.data_through,
       daily = EXCLUDED.daily, daily_rmse = EXCLUDED.daily_rmse, stored_at = now()
     WHERE f.issued_at <= EXCLUDED.issued_at`,
    [
      rows.map((f) => f.sku),
      rows.map((f) => f.method),
      rows.map((f) => f.issuedAt),
      rows.map((f) => f.dataThrough),
      rows.map((f) => JSON.stringify(f.daily.map((d) => ({ businessDay: d.businessDay, mean: d.mean, lower: d.lower, upper: d.upper })))),
      rows.map((f) => f.error.dailyRmse),
    ],
  );
  return rowCount ?? 0;
}
