import { Router } from 'express';
import { LossPreventionAlertsQuery, type LossPreventionAlerts } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { allow, parseQuery } from '@tillstream/http';
import { listAlerts } from '../lossprev/booking.ts';

/**
 * The loss-prevention part of the store API. Alerts name operators: staff
 * data a store viewer (and the dashboard's own viewer token) must not read,
 * so only a store manager may (docs/roles.md).
 */
export function lossPreventionRouter({ pool }: { pool: Pool }): Router {
  const router = Router();
  router.get('/v1/loss-prevention/alerts', allow('store-manager'), async (req, res) => {
    const q = parseQuery(LossPreventionAlertsQuery, req);
    res.json({ alerts: await listAlerts(pool, q) } satisfies LossPreventionAlerts);
  });
  return router;
}
