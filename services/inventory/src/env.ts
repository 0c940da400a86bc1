import { z } from 'zod';
import { httpEnv, parseEnv, postgresEnv, positiveInt, timeZone } from '@tillstream/config';
import { consumerServiceEnv } from '@tillstream/consumer-service';

/** Everything the inventory service reads from the environment; fails at boot with every bad variable named. */
export const inventoryEnv = z.object({
  ...consumerServiceEnv.shape,
  ...postgresEnv('inventory').shape,
  ...httpEnv(8081).shape,
  ALERT_BAND_PERCENT: z.coerce.number().min(0).max(100).default(20).describe('Hysteresis: a LOW SKU is OK again only above reorder point + this percent of it (at least one unit).'),
  BODY_LIMIT_BYTES: positiveInt.default(1024 * 1024).describe('Largest store-API body; larger gets 413.'),
  TRENDS_URL: z.url().default('http://127.0.0.1:8082').describe("The store's trends service: /v1/sales on this port and the dashboard's sales figures."),
  SYNC_URL: z.url().default('http://127.0.0.1:8083').describe("The store's sync service: /v1/sync on this port and the dashboard's link to HQ."),
  DASHBOARD_INTERVAL_MS: positiveInt.default(1000).describe('How often open dashboards are brought up to date.'),
  STORE_TIME_ZONE: timeZone.default('UTC').describe("The store's IANA time zone: replenishment's \"today\" is the business day there (as trends' STORE_TIME_ZONE)."),
  REPLENISHMENT_PUBLISH_MS: positiveInt.default(60_000).describe('How often changed replenishment suggestions are published (inventory.replenishment.v1, for HQ): a SKU at most once per interval.'),
  CATALOG_POLL_MS: positiveInt.default(2000).describe("How often inventory looks for a catalog version sync stored from HQ, to apply it to its items (one indexed read)."),
});

export type InventoryEnv = z.output<typeof inventoryEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): InventoryEnv {
  return parseEnv(inventoryEnv, env);
}
