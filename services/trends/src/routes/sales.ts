import { Router } from 'express';
import {
  SalesAnomaliesQuery,
  SalesSummaryQuery,
  SalesTimeseriesQuery,
  SalesVelocityQuery,
  TopSellersQuery,
  type SalesAnomalies,
  type SalesSummary,
  type SalesTimeseries,
  type SalesVelocity,
  type TopSellers,
} from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { allow, parseQuery } from '@tillstream/http';
import type { TrendsContext } from '../facts.ts';
import { daySummary, listAnomalies, timeseries, today, topSellers, velocity } from '../queries.ts';

export interface SalesRouteDeps {
  pool: Pool;
  ctx: TrendsContext;
}

/** The sales part of the store API. */
export function salesRouter({ pool, ctx }: SalesRouteDeps): Router {
  const router = Router();
  const viewer = allow('store-viewer');

  router.get('/v1/sales/summary', viewer, async (req, res) => {
    const q = parseQuery(SalesSummaryQuery, req);
    res.json((await daySummary(pool, ctx, q.businessDay ?? today(ctx.timeZone))) satisfies SalesSummary);
  });

  router.get('/v1/sales/timeseries', viewer, async (req, res) => {
    const q = parseQuery(SalesTimeseriesQuery, req);
    const points = await timeseries(pool, ctx, q);
    res.json({
      granularity: q.granularity,
      dimension: q.sku ? 'sku' : q.category ? 'category' : 'store',
      member: q.sku ?? q.category ?? 'all',
      // Windows without sales are absent (their figures are zero).
      points: points.map((p) => ({ windowStart: p.windowStart, ...p.figures, revision: p.revision })),
    } satisfies SalesTimeseries);
  });

  router.get('/v1/sales/top', viewer, async (req, res) => {
    const q = parseQuery(TopSellersQuery, req);
    const window = q.window === '1h' ? '1h' : q.window === '7d' ? '7d' : 'day';
    const businessDay = q.businessDay ?? today(ctx.timeZone);
    const items = await topSellers(pool, ctx, { window, businessDay, by: q.by, limit: q.limit });
    res.json({ window: q.window ?? (q.businessDay ? 'day' : 'today'), businessDay: window === '1h' ? null : businessDay, by: q.by, items } satisfies TopSellers);
  });

  router.get('/v1/sales/velocity', viewer, async (req, res) => {
    const q = parseQuery(SalesVelocityQuery, req);
    res.json((await velocity(pool, ctx, { sku: q.sku })) satisfies SalesVelocity);
  });

  router.get('/v1/sales/anomalies', viewer, async (req, res) => {
    const q = parseQuery(SalesAnomaliesQuery, req);
    res.json({ anomalies: await listAnomalies(pool, ctx, q) } satisfies SalesAnomalies);
  });
  return router;
}
