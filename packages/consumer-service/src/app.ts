import type { Express, RequestHandler, Router } from 'express';
import { classifyPgError, findPrincipal, isTransientPgError, type Pool } from '@tillstream/db';
import { serviceApp } from '@tillstream/http';
import type { HealthCheck, Logger, Registry } from '@tillstream/observability';

export interface SiteAppOptions {
  pool: Pool;
  logger: Logger;
  registry: Registry;
  /** Whose database this is: who can be told apart by their credentials (terminals and store people, or stores and HQ people). */
  site: 'store' | 'hq';
  /** The service's own routes, in order. */
  routes: Array<Router | RequestHandler>;
  /** /readyz's consumer check (the runtime's RuntimeChecks.consuming); absent: the app is ready when its database answers. */
  consuming?: HealthCheck | undefined;
  /** How long a looked-up credential is trusted; default 5 s. */
  credentialCacheMs?: number | undefined;
}

/**
 * The express app of a service whose callers are in its own database (every
 * one but ingest): serviceApp with readiness for the database (and the
 * consumers), credentials looked up in the site's database and database
 * outages answered 503. It does not listen: tests call it with a pool alone.
 */
export function siteApp(options: SiteAppOptions): Express {
  const { pool } = options;
  return serviceApp({
    registry: options.registry,
    logger: options.logger,
    ready: {
      database: async () => {
        await pool.query('SELECT 1');
      },
      ...(options.consuming ? { consumer: options.consuming } : {}),
    },
    routes: options.routes,
    authentication: {
      lookup: (credential) => findPrincipal(pool, options.site, credential),
      onLookupError: classifyPgError,
      ...(options.credentialCacheMs === undefined ? {} : { cacheMs: options.credentialCacheMs }),
    },
    monitor: options.site === 'store' ? 'store-viewer' : 'hq-viewer',
    classify: (err) => (isTransientPgError(err) ? classifyPgError(err) : err),
  });
}
