import { Router } from 'express';
import { StoreQuarantineQuery } from '@tillstream/contracts';
import { quarantineView, type Pool } from '@tillstream/db';
import { allow, parseQuery } from '@tillstream/http';


/**
 * GET /v1/sync/quarantine: the store's quarantine (what its consumers
 * dead-lettered and what HQ refused), counted by topic, service and code with
 * ages, and listed (error texts with card-like digits masked). Read-only, like
 * the rest of the store API; `tillstream dlq` replays and discards.
 */
export function quarantineRouter(deps: { pool: Pool }): Router {
  const router = Router();
  router.get('/v1/sync/quarantine', allow('store-viewer'), async (req, res) => {
    const q = parseQuery(StoreQuarantineQuery, req);
    const view = await quarantineView(deps.pool, 'store', {
      status: q.status,
      limit: q.limit,
      ...(q.source ? { source: q.source } : {}),
      ...(q.service ? { service: q.service } : {}),
      ...(q.topic ? { topic: q.topic } : {}),
      ...(q.code ? { code: q.code } : {}),
    });
    res.json(view);
  });
  return router;
}
