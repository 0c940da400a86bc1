import type { Express } from 'express';
import { siteApp } from '@tillstream/consumer-service';
import { forecastApi, lossPreventionApi, salesApi } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { openApiRouter } from '@tillstream/http';
import type { HealthCheck, Logger, Registry } from '@tillstream/observability';
import type { TrendsContext } from './facts.ts';
import { forecastRouter } from './routes/forecast.ts';
import { DEFAULT_LOSS_POLICY } from './lossprev/scoring.ts';
import { lossPreventionRouter } from './routes/loss-prevention.ts';
import { salesRouter } from './routes/sales.ts';

export interface TrendsDeps {
  pool: Pool;
  logger: Logger;
  registry: Registry;
  ctx: TrendsContext;
  /** Loss prevention's refund-after-sale window (LOSSPREV_REFUND_WINDOW_MINUTES); default 30. */
  refundWindowMinutes?: number;
  /** /readyz's consumer check (the runtime's); absent: ready when the database answers. */
  consuming?: HealthCheck;
}

/** The store API's sales part as an express app, without listening. */
export function createApp(deps: TrendsDeps): Express {
  return siteApp({
    pool: deps.pool,
    logger: deps.logger,
    registry: deps.registry,
    site: 'store',
    consuming: deps.consuming,
    routes: [
      salesRouter({ pool: deps.pool, ctx: deps.ctx }),
      forecastRouter({ pool: deps.pool }),
      lossPreventionRouter({ pool: deps.pool, refundWindowMinutes: deps.refundWindowMinutes ?? DEFAULT_LOSS_POLICY.refundWindowMinutes }),
      openApiRouter({
        title: 'Tillstream trends API',
        description: 'The sales, demand-forecast and loss-prevention parts of the store API (also served through the store API port).',
        operations: [...salesApi, ...forecastApi, ...lossPreventionApi],
      }),
    ],
  });
}
