import type { HqDashboardSnapshot } from '@tillstream/contracts';
import { dashboardSessions, quarantineView, type Pool } from '@tillstream/db';
import { dashboard, type Dashboard } from '@tillstream/dashboard';
import type { Logger } from '@tillstream/observability';
import { reconciliation, salesByStore, storeHealth } from './queries.ts';

const DAY_MS = 86_400_000;

/**
 * HQ's live dashboard (GET / on HQ's port): chain sales by store over the
 * last 7 business days, each store's sync health and lag, and the
 * reconciliation of each store's days, and every store's open quarantine
 * entries; the same queries as HQ's API.
 */
export function hqDashboard(options: { pool: Pool; offlineAfterSeconds: number; logger: Logger; intervalMs?: number }): Dashboard {
  return dashboard({
    page: 'hq',
    title: 'Tillstream HQ',
    viewer: 'hq-viewer',
    ...dashboardSessions(options.pool),
    intervalMs: options.intervalMs,
    onError: (err) => options.logger.warn({ err }, 'dashboard snapshot failed'),
    snapshot: async () => {
      const now = Date.now();
      const days = Array.from({ length: 7 }, (_, i) => new Date(now - (6 - i) * DAY_MS).toISOString().slice(0, 10));
      const [sales, health, manifests, quarantine] = await Promise.all([
        salesByStore(options.pool, { from: days[0], to: days[6] }),
        storeHealth(options.pool, options.offlineAfterSeconds),
        reconciliation(options.pool, {}),
        quarantineView(options.pool, 'hq', { limit: 30 }),
      ]);
      return { today: days[6]!, days, sales, health, reconciliation: manifests.slice(0, 60), quarantine } satisfies HqDashboardSnapshot;
    },
  });
}
