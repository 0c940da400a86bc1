import { Router } from 'express';
import type { SyncStatus } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { allow } from '@tillstream/http';
import { appliedCatalogVersion } from '../catalog.ts';
import { backlog } from '../outbox.ts';
import type { Uploader } from '../uploader.ts';

export interface LinkState {
  reachable: boolean | null;
  lastError: string | null;
  lastAttemptAt: string | null;
}

export interface StatusRouteDeps {
  pool: Pool;
  storeId: string;
  hqUrl: string;
  link: LinkState;
  /** The upload queue's figures (null while Redis is away) and why Redis refuses this store's user, if it does. */
  uploader: Pick<Uploader, 'counts' | 'authError'>;
}

/** GET /v1/sync/status: how far behind HQ this store is, and whether HQ answers (store viewers: it names HQ's URL and its last error). */
export function statusRouter(deps: StatusRouteDeps): Router {
  const router = Router();
  router.get('/v1/sync/status', allow('store-viewer'), async (_req, res) => {
    const [pending, success, manifests, catalog, queue] = await Promise.all([
      backlog(deps.pool),
      deps.pool.query<{ at: Date | null }>('SELECT max(acked_at) AS at FROM sync_batches'),
      deps.pool.query<{ business_day: string; status: string; sent_at: Date; transactions: number }>(
        "SELECT to_char(business_day, 'YYYY-MM-DD') AS business_day, status, sent_at, transactions FROM sync_manifests ORDER BY business_day DESC LIMIT 14",
      ),
      appliedCatalogVersion(deps.pool),
      // Redis down must not take the status page with it: null while it is away.
      deps.uploader.counts(),
    ]);
    const oldest = pending.oldestAt ? Date.parse(pending.oldestAt) : undefined;
    res.json({
      storeId: deps.storeId,
      hq: { url: deps.hqUrl, ...deps.link },
      backlog: {
        records: pending.records,
        batches: pending.batches,
        oldestAt: pending.oldestAt,
        oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, Math.round((Date.now() - oldest) / 1000)),
      },
      lastSuccessAt: success.rows[0]?.at?.toISOString() ?? null,
      manifests: manifests.rows.map((m) => ({ businessDay: m.business_day, status: m.status, transactions: m.transactions, sentAt: m.sent_at.toISOString() })),
      catalog: catalog ?? null,
      queue,
      // Why the queue is null when Redis answers but refuses this store's user (wrong password, ACL).
      queueError: deps.uploader.authError,
    } satisfies SyncStatus);
  });
  return router;
}
