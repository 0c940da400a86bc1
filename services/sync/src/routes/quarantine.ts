import { Router } from 'express';
import { z } from 'zod';
import { QuarantineSource, QuarantineStatus } from '@tillstream/contracts';
import { quarantineView, type Pool } from '@tillstream/db';
import { allow, parseQuery } from '@tillstream/http';

const QuarantineQuery = z.strictObject({
  status: z.union([QuarantineStatus, z.literal('all')]).default('open'),
  source: QuarantineSource.optional(),
  service: z.string().min(1).max(64).optional(),
  topic: z.string().min(1).max(249).optional(),
  code: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * GET /v1/sync/quarantine: the store's quarantine (what its consumers
 * dead-lettered and what HQ refused), counted by topic, service and code with
 * ages, and listed (error texts with card-like digits masked). Read-only, like
 * the rest of the store API; `tillstream dlq` replays and discards.
 */
export function quarantineRouter(deps: { pool: Pool }): Router {
  const router = Router();
  router.get('/v1/sync/quarantine', allow('store-viewer'), async (req, res) => {
    const q = parseQuery(QuarantineQuery, req);
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
