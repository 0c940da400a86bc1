import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { BusinessDay, CatalogPublishRequest, Identifier, QuarantineSource, QuarantineStatus, ReconciliationStatus, Sku } from '@tillstream/contracts';
import { quarantineView, type Pool } from '@tillstream/db';
import { HttpProblem, jsonBody, parseBody, parseQuery } from '@tillstream/http';
import { publishCatalog } from '../catalog.ts';
import { reconciliation, salesByMember, salesByStore, stockAcrossStores, storeHealth } from '../queries.ts';

export interface ChainRouteDeps {
  pool: Pool;
  offlineAfterSeconds: number;
  adminToken: string | undefined;
}

const SalesQuery = z.strictObject({ storeId: Identifier.optional(), from: BusinessDay.optional(), to: BusinessDay.optional(), businessDay: BusinessDay.optional() });
const MemberQuery = z.strictObject({ businessDay: BusinessDay, storeId: Identifier.optional(), limit: z.coerce.number().int().min(1).max(1000).default(50) });
const QuarantineQuery = z.strictObject({
  storeId: Identifier.optional(),
  status: z.union([QuarantineStatus, z.literal('all')]).default('open'),
  source: QuarantineSource.optional(),
  service: z.string().min(1).max(64).optional(),
  code: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const ReconciliationQuery = z.strictObject({ storeId: Identifier.optional(), businessDay: BusinessDay.optional(), status: ReconciliationStatus.optional() });

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The HQ admin bearer token, compared in constant time. Both sides are
 * hashed first: equal lengths whatever was sent (timingSafeEqual throws on
 * unequal lengths, e.g. a token with non-ASCII characters).
 */
function adminAuth(adminToken: string | undefined): RequestHandler {
  const admin = adminToken ? digest(adminToken) : undefined;
  return (req, _res, next) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !admin || !timingSafeEqual(digest(token), admin)) {
      next(new HttpProblem('UNAUTHORIZED', admin ? 'send the HQ admin token as "Authorization: Bearer <token>"' : 'catalog publishing over HTTP is off (HQ_ADMIN_TOKEN unset)'));
      return;
    }
    next();
  };
}

/** HQ's chain views (read-only, for HQ's own network) and catalog publishing (admin token). */
export function chainRouter(deps: ChainRouteDeps): Router {
  const router = Router();

  router.get('/v1/sales/stores', async (req, res) => {
    const q = parseQuery(SalesQuery, req);
    const from = q.businessDay ?? q.from;
    const to = q.businessDay ?? q.to;
    res.json({ sales: await salesByStore(deps.pool, { ...(q.storeId ? { storeId: q.storeId } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) }) });
  });
  for (const dimension of ['sku', 'category'] as const) {
    router.get(`/v1/sales/${dimension === 'sku' ? 'skus' : 'categories'}`, async (req, res) => {
      const q = parseQuery(MemberQuery, req);
      res.json({ businessDay: q.businessDay, sales: await salesByMember(deps.pool, dimension, { businessDay: q.businessDay, limit: q.limit, ...(q.storeId ? { storeId: q.storeId } : {}) }) });
    });
  }
  router.get('/v1/stock/:sku', async (req, res) => {
    const sku = Sku.safeParse(req.params.sku);
    if (!sku.success) throw new HttpProblem('NOT_FOUND', 'not a valid SKU');
    res.json(await stockAcrossStores(deps.pool, sku.data));
  });
  router.get('/v1/stores/health', async (_req, res) => {
    res.json({ stores: await storeHealth(deps.pool, deps.offlineAfterSeconds) });
  });
  router.get('/v1/reconciliation', async (req, res) => {
    const q = parseQuery(ReconciliationQuery, req);
    res.json({ days: await reconciliation(deps.pool, q) });
  });

  // Every store's poison in one place (the stores' quarantine entries at their latest revision, and HQ's own dead letters).
  router.get('/v1/quarantine', async (req, res) => {
    const q = parseQuery(QuarantineQuery, req);
    res.json(
      await quarantineView(deps.pool, 'hq', {
        status: q.status,
        limit: q.limit,
        ...(q.storeId ? { storeId: q.storeId } : {}),
        ...(q.source ? { source: q.source } : {}),
        ...(q.service ? { service: q.service } : {}),
        ...(q.code ? { code: q.code } : {}),
      }),
    );
  });

  // The token is checked before the body (up to 32 MB) is read or parsed: an anonymous caller costs nothing.
  router.post('/v1/catalog', adminAuth(deps.adminToken), ...jsonBody({ limitBytes: 32 * 1024 * 1024 }), async (req, res) => {
    res.status(201).json(await publishCatalog(deps.pool, parseBody(CatalogPublishRequest, req).items));
  });

  return router;
}
