import { Router } from 'express';
import { z } from 'zod';
import { BusinessDay, Rfc3339, Sku } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { allow, parseQuery } from '@tillstream/http';
import type { TrendsContext } from '../facts.ts';
import { daySummary, listAnomalies, timeseries, today, topSellers, velocity } from '../queries.ts';

export interface SalesRouteDeps {
  pool: Pool;
  ctx: TrendsContext;
}

/** Most points one time-series request returns: a week of 5-minute windows. */
const MAX_POINTS = 7 * 24 * 12;

const SummaryQuery = z.strictObject({ businessDay: BusinessDay.optional() });

const TimeseriesQuery = z
  .strictObject({
    granularity: z.enum(['5m', '1h']),
    from: Rfc3339,
    to: Rfc3339,
    sku: Sku.optional(),
    category: z.string().min(1).max(64).optional(),
  })
  .superRefine((q, ctx) => {
    const span = Date.parse(q.to) - Date.parse(q.from);
    if (span <= 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
    const points = span / (q.granularity === '5m' ? 300_000 : 3600_000);
    if (points > MAX_POINTS) ctx.addIssue({ code: 'custom', path: ['to'], message: `the range holds more than ${MAX_POINTS} windows; narrow it or use 1h` });
    if (q.sku && q.category) ctx.addIssue({ code: 'custom', path: ['category'], message: 'give sku or category, not both' });
  });

const TopQuery = z
  .strictObject({
    window: z.enum(['today', '1h', '7d']).optional(),
    businessDay: BusinessDay.optional(),
    by: z.enum(['units', 'revenue']).default('units'),
    limit: z.coerce.number().int().min(1).max(100).default(10),
  })
  .superRefine((q, ctx) => {
    if (q.window === '1h' && q.businessDay) ctx.addIssue({ code: 'custom', path: ['businessDay'], message: 'does not go with window=1h' });
  });

const AnomaliesQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50), since: Rfc3339.optional() });
const VelocityQuery = z.strictObject({ sku: Sku.optional() });

/** The sales part of the store API. */
export function salesRouter({ pool, ctx }: SalesRouteDeps): Router {
  const router = Router();
  const viewer = allow('store-viewer');

  router.get('/v1/sales/summary', viewer, async (req, res) => {
    const q = parseQuery(SummaryQuery, req);
    res.json(await daySummary(pool, ctx, q.businessDay ?? today(ctx.timeZone)));
  });

  router.get('/v1/sales/timeseries', viewer, async (req, res) => {
    const q = parseQuery(TimeseriesQuery, req);
    const points = await timeseries(pool, ctx, q);
    res.json({
      granularity: q.granularity,
      dimension: q.sku ? 'sku' : q.category ? 'category' : 'store',
      member: q.sku ?? q.category ?? 'all',
      // Windows without sales are absent (their figures are zero).
      points: points.map((p) => ({ windowStart: p.windowStart, ...p.figures, revision: p.revision })),
    });
  });

  router.get('/v1/sales/top', viewer, async (req, res) => {
    const q = parseQuery(TopQuery, req);
    const window = q.window === '1h' ? '1h' : q.window === '7d' ? '7d' : 'day';
    const businessDay = q.businessDay ?? today(ctx.timeZone);
    const items = await topSellers(pool, ctx, { window, businessDay, by: q.by, limit: q.limit });
    res.json({ window: q.window ?? (q.businessDay ? 'day' : 'today'), businessDay: window === '1h' ? null : businessDay, by: q.by, items });
  });

  router.get('/v1/sales/velocity', viewer, async (req, res) => {
    const q = parseQuery(VelocityQuery, req);
    res.json(await velocity(pool, ctx, { sku: q.sku }));
  });

  router.get('/v1/sales/anomalies', viewer, async (req, res) => {
    const q = parseQuery(AnomaliesQuery, req);
    res.json({ anomalies: await listAnomalies(pool, ctx, q) });
  });
  return router;
}
