import type { Express, Router } from 'express';
import { siteApp } from '@tillstream/consumer-service';
import type { Pool } from '@tillstream/db';
import { StoreDashboardSnapshot, dashboardApi, forecastApi, inventoryApi, lossPreventionApi, salesApi, syncApi } from '@tillstream/contracts';
import { allow, forward, openApiRouter } from '@tillstream/http';
import type { HealthCheck, Logger, Registry } from '@tillstream/observability';
import type { LedgerContext } from './ledger.ts';
import { inventoryRouter } from './routes/inventory.ts';

export interface InventoryDeps {
  pool: Pool;
  logger: Logger;
  registry: Registry;
  ledger: LedgerContext;
  bodyLimitBytes: number;
  /** Where /v1/sales and /v1/sync are answered (the store API is one port). */
  trendsUrl: string;
  syncUrl: string;
  /** The store's time zone: replenishment's "today". */
  timeZone: string;
  /** The clock (tests inject one); default the system's. */
  now?: () => Date;
  /** Called after a write committed (wakes the outbox publisher); default nothing. */
  published?: () => void;
  /** /readyz's consumer check (the runtime's); absent: ready when the database answers. */
  consuming?: HealthCheck;
  /** The store dashboard's routes (its owner closes its live streams on stop). */
  dashboard?: Router;
}

/** The store API's inventory part (and the store's one port) as an express app, without listening. */
export function createApp(deps: InventoryDeps): Express {
  return siteApp({
    pool: deps.pool,
    logger: deps.logger,
    registry: deps.registry,
    site: 'store',
    consuming: deps.consuming,
    routes: [
      inventoryRouter({
        pool: deps.pool,
        ledger: deps.ledger,
        bodyLimitBytes: deps.bodyLimitBytes,
        published: deps.published ?? (() => undefined),
        timeZone: deps.timeZone,
        ...(deps.now ? { now: deps.now } : {}),
      }),
      // The whole store API on one port: sales and sync answered by the services that own them.
      forward({ prefix: '/v1/sales', target: deps.trendsUrl, name: 'the trends service', guard: allow('store-viewer') }),
      forward({ prefix: '/v1/forecast', target: deps.trendsUrl, name: 'the trends service', guard: allow('store-viewer') }),
      // Loss prevention names operators: a store manager's only, here as at trends.
      forward({ prefix: '/v1/loss-prevention', target: deps.trendsUrl, name: 'the trends service', guard: allow('store-manager') }),
      forward({ prefix: '/v1/sync', target: deps.syncUrl, name: 'the sync service', guard: allow('store-viewer') }),
      ...(deps.dashboard ? [deps.dashboard] : []),
      openApiRouter({
        title: 'Tillstream store API',
        description: 'The store API on one port: inventory (this service), sales, demand forecasts and loss prevention (trends) and sync status (sync), and the store dashboard.',
        operations: [...inventoryApi, ...salesApi, ...forecastApi, ...lossPreventionApi, ...syncApi, ...dashboardApi(StoreDashboardSnapshot)],
      }),
    ],
  });
}
