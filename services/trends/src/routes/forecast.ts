import { Router, type Request } from 'express';
import { ForecastTopQuery, Sku, type ForecastDemand, type ForecastTop } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { allow, HttpProblem, parseQuery } from '@tillstream/http';
import { skuForecast, topForecasts } from '../forecasts.ts';

function skuParam(req: Request): string {
  const parsed = Sku.safeParse(req.params.sku);
  if (!parsed.success) throw new HttpProblem('NOT_FOUND', 'not a valid SKU');
  return parsed.data;
}

/** The demand-forecast part of the store API (guarded like /v1/sales: store-viewer and up). */
export function forecastRouter({ pool }: { pool: Pool }): Router {
  const router = Router();
  const viewer = allow('store-viewer');

  router.get('/v1/forecast/skus/:sku', viewer, async (req, res) => {
    const forecast = await skuForecast(pool, skuParam(req));
    if (!forecast) throw new HttpProblem('NOT_FOUND', 'no forecast for this SKU (it has not sold in the history the forecasts read, or none was made yet)');
    res.json(forecast satisfies ForecastDemand);
  });

  router.get('/v1/forecast/top', viewer, async (req, res) => {
    const q = parseQuery(ForecastTopQuery, req);
    res.json({ items: await topForecasts(pool, q.limit) } satisfies ForecastTop);
  });

  return router;
}
