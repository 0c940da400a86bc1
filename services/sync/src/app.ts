import type { Express } from 'express';
import { siteApp } from '@tillstream/consumer-service';
import { syncApi } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { openApiRouter } from '@tillstream/http';
import type { HealthCheck, Logger, Registry } from '@tillstream/observability';
import { quarantineRouter } from './routes/quarantine.ts';
import { statusRouter, type LinkState, type StatusRouteDeps } from './routes/status.ts';

export interface SyncDeps {
  storeId: string;
  hqUrl: string;
  pool: Pool;
  logger: Logger;
  registry: Registry;
  /** Whether HQ answered the last call (kept up to date by the HQ client). */
  link: LinkState;
  /** The upload queue, read for /v1/sync/status. */
  uploader: StatusRouteDeps['uploader'];
  /** /readyz's consumer check (the runtime's); absent: ready when the database answers. */
  consuming?: HealthCheck;
}

/** The store API's sync part (status, quarantine) as an express app, without listening. */
export function createApp(deps: SyncDeps): Express {
  const { pool } = deps;
  return siteApp({
    pool,
    logger: deps.logger,
    registry: deps.registry,
    site: 'store',
    consuming: deps.consuming,
    routes: [
      statusRouter({ pool, storeId: deps.storeId, hqUrl: deps.hqUrl, link: deps.link, uploader: deps.uploader }),
      quarantineRouter({ pool }),
      openApiRouter({ title: 'Tillstream sync API', description: "The store's link to HQ: sync status and quarantine (also served through the store API port).", operations: syncApi }),
    ],
  });
}
