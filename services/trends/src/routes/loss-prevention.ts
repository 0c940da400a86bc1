import { Router } from 'express';
import { LossPreventionAlertsQuery, LossPreventionFiguresQuery, type LossPreventionAlerts, type LossPreventionFigures } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { allow, parseQuery } from '@tillstream/http';
import { listAlerts, memberFigures } from '../lossprev/booking.ts';

/**
 * The loss-prevention part of the store API. Alerts name operators: staff
 * data a store viewer (and the dashboard's own viewer token) must not read,
 * so only a store manager may (docs/roles.md).
 */
export function lossPreventionRouter({ pool, refundWindowMinutes }: { pool: Pool; refundWindowMinutes: number }): Router {
  const router = Router();
  const manager = allow('store-manager');
  router.get('/v1/loss-prevention/alerts', manager, async (req, res) => {
    const q = parseQuery(LossPreventionAlertsQuery, req);
    res.json({ alerts: await listAlerts(pool, q) } satisfies LossPreventionAlerts);
  });
  router.get('/v1/loss-prevention/figures', manager, async (req, res) => {
    const q = parseQuery(LossPreventionFiguresQuery, req);
    res.json((await memberFigures(pool, q, refundWindowMinutes)) satisfies LossPreventionFigures);
  });
  return router;
}
