import { Router } from 'express';
import {
  CatalogPublishRequest,
  ChainLossPreventionQuery,
  ChainMemberQuery,
  ChainQuarantineQuery,
  ChainReconciliationQuery,
  ChainReplenishmentQuery,
  ChainSalesQuery,
  Sku,
  type CatalogPublished,
  type ChainReconciliation,
  type ChainReplenishment,
  type ChainSalesByStore,
  type LossPreventionAlerts,
  type QuarantineListing,
  type StockAcrossStores,
  type StoresHealth,
} from '@tillstream/contracts';
import { quarantineView, type Pool } from '@tillstream/db';
import { HttpProblem, allow, jsonBody, parseBody, parseQuery } from '@tillstream/http';
import { publishCatalog } from '../catalog.ts';
import { chainReplenishment, lossPreventionAlerts, reconciliation, salesByMember, salesByStore, stockAcrossStores, storeHealth } from '../queries.ts';

/** A page cursor of GET /v1/replenishment: the last (store, SKU) of the previous page. */
function replenishmentCursor(cursor: string): [string, string] {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    decoded = undefined;
  }
  if (Array.isArray(decoded) && decoded.length === 2 && decoded.every((v) => typeof v === 'string')) return decoded as [string, string];
  throw new HttpProblem('BAD_QUERY', 'cursor is not one this API gave out', { errors: [{ pointer: '/query/cursor', message: 'not a cursor from a previous page' }] });
}

export interface ChainRouteDeps {
  pool: Pool;
  offlineAfterSeconds: number;
  /** The largest catalog publish body, read only once an HQ admin's token was checked. */
  catalogLimitBytes: number;
}

/** HQ's chain views (HQ viewers) and catalog publishing (HQ admins). */
export function chainRouter(deps: ChainRouteDeps): Router {
  const router = Router();
  const viewer = allow('hq-viewer');

  router.get('/v1/sales/stores', viewer, async (req, res) => {
    const q = parseQuery(ChainSalesQuery, req);
    const from = q.businessDay ?? q.from;
    const to = q.businessDay ?? q.to;
    res.json({ sales: await salesByStore(deps.pool, { ...(q.storeId ? { storeId: q.storeId } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) }) } satisfies ChainSalesByStore);
  });
  for (const dimension of ['sku', 'category'] as const) {
    router.get(`/v1/sales/${dimension === 'sku' ? 'skus' : 'categories'}`, viewer, async (req, res) => {
      const q = parseQuery(ChainMemberQuery, req);
      res.json({ businessDay: q.businessDay, sales: await salesByMember(deps.pool, dimension, { businessDay: q.businessDay, limit: q.limit, ...(q.storeId ? { storeId: q.storeId } : {}) }) });
    });
  }
  router.get('/v1/stock/:sku', viewer, async (req, res) => {
    const sku = Sku.safeParse(req.params.sku);
    if (!sku.success) throw new HttpProblem('NOT_FOUND', 'not a valid SKU');
    res.json((await stockAcrossStores(deps.pool, sku.data)) satisfies StockAcrossStores);
  });
  // Every store's suggested orders, as each store computed them (synced like stock levels).
  router.get('/v1/replenishment', viewer, async (req, res) => {
    const q = parseQuery(ChainReplenishmentQuery, req);
    const page = await chainReplenishment(deps.pool, {
      dueToday: q.due === 'today',
      limit: q.limit,
      ...(q.storeId ? { storeId: q.storeId } : {}),
      ...(q.sku ? { sku: q.sku } : {}),
      ...(q.cursor ? { after: replenishmentCursor(q.cursor) } : {}),
    });
    const last = page.suggestions[page.suggestions.length - 1];
    res.json({ suggestions: page.suggestions, nextCursor: page.more && last ? Buffer.from(JSON.stringify([last.storeId, last.sku])).toString('base64url') : null } satisfies ChainReplenishment);
  });
  router.get('/v1/stores/health', viewer, async (_req, res) => {
    res.json({ stores: await storeHealth(deps.pool, deps.offlineAfterSeconds) } satisfies StoresHealth);
  });
  router.get('/v1/reconciliation', viewer, async (req, res) => {
    const q = parseQuery(ChainReconciliationQuery, req);
    res.json({ days: await reconciliation(deps.pool, q) } satisfies ChainReconciliation);
  });

  // Loss-prevention alerts name operators: staff data for HQ admins, not for every HQ viewer (docs/roles.md).
  router.get('/v1/loss-prevention/alerts', allow('hq-admin'), async (req, res) => {
    const q = parseQuery(ChainLossPreventionQuery, req);
    res.json({ alerts: await lossPreventionAlerts(deps.pool, q) } satisfies LossPreventionAlerts);
  });

  // Every store's poison in one place (the stores' quarantine entries at their latest revision, and HQ's own dead letters).
  router.get('/v1/quarantine', viewer, async (req, res) => {
    const q = parseQuery(ChainQuarantineQuery, req);
    res.json(
      await quarantineView(deps.pool, 'hq', {
        status: q.status,
        limit: q.limit,
        ...(q.storeId ? { storeId: q.storeId } : {}),
        ...(q.source ? { source: q.source } : {}),
        ...(q.service ? { service: q.service } : {}),
        ...(q.code ? { code: q.code } : {}),
      }) satisfies QuarantineListing,
    );
  });

  // The token is checked before the body is read or parsed: an anonymous caller costs nothing.
  router.post('/v1/catalog', allow('hq-admin'), ...jsonBody({ limitBytes: deps.catalogLimitBytes }), async (req, res) => {
    res.status(201).json((await publishCatalog(deps.pool, parseBody(CatalogPublishRequest, req).items)) satisfies CatalogPublished);
  });

  return router;
}
