import type { Express, RequestHandler, Router } from 'express';
import { siteApp } from '@tillstream/consumer-service';
import { HqDashboardSnapshot, dashboardApi, hqApi } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { openApiRouter } from '@tillstream/http';
import type { BatchProducer } from './batches.ts';
import type { HealthCheck, Logger, Registry } from '@tillstream/observability';
import { chainRouter } from './routes/chain.ts';
import { storeRouter } from './routes/stores.ts';

export interface HqConfig {
  batchLimitBytes: number;
  catalogLimitBytes: number;
  /** How long a store's looked-up token (and any credential) is trusted. */
  tokenCacheMs: number;
  offlineAfterSeconds: number;
  /** How long a batch being applied stays claimed. */
  batchClaimLeaseMs?: number;
}

export interface HqDeps {
  config: HqConfig;
  pool: Pool;
  /** Where accepted store batches go (HQ's Kafka); only the store upload routes use it, and only once called. */
  producer: BatchProducer;
  /** Refuses upload batches before their body is read while HQ is saturated (admission.ts). */
  admission?: RequestHandler;
  logger: Logger;
  registry: Registry;
  /** /readyz's consumer check (the runtime's); absent: ready when the database answers. */
  consuming?: HealthCheck;
  /** The HQ dashboard's routes (its owner closes its live streams on stop). */
  dashboard?: Router;
}

/** HQ's API (store uploads, chain views, catalog, dashboard) as an express app, without listening. */
export function createApp(deps: HqDeps): Express {
  const { config, pool } = deps;
  return siteApp({
    pool,
    logger: deps.logger,
    registry: deps.registry,
    site: 'hq',
    consuming: deps.consuming,
    credentialCacheMs: config.tokenCacheMs,
    routes: [
      storeRouter({
        pool,
        producer: deps.producer,
        batchLimitBytes: config.batchLimitBytes,
        tokenCacheMs: config.tokenCacheMs,
        ...(config.batchClaimLeaseMs === undefined ? {} : { batchClaimLeaseMs: config.batchClaimLeaseMs }),
        ...(deps.admission ? { admission: deps.admission } : {}),
      }),
      chainRouter({ pool, offlineAfterSeconds: config.offlineAfterSeconds, catalogLimitBytes: config.catalogLimitBytes }),
      ...(deps.dashboard ? [deps.dashboard] : []),
      openApiRouter({
        title: 'Tillstream HQ API',
        description: 'Store uploads (mutual TLS and a store token), the chain views, catalog publishing and the HQ dashboard.',
        operations: [...hqApi, ...dashboardApi(HqDashboardSnapshot)],
      }),
    ],
  });
}
