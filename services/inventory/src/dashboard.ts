import type { SalesAnomalies, SalesSummary, SalesTimeseries, StoreDashboardSnapshot, SyncStatus, TopSellers } from '@tillstream/contracts';
import { dashboardSessions, issueUserToken, quarantineView, type Pool } from '@tillstream/db';
import { dashboard, type Dashboard } from '@tillstream/dashboard';
import type { Logger } from '@tillstream/observability';
import { latestAlerts, listItems } from './queries.ts';
import { businessDayAt, replenishmentSuggestions } from './suggestions.ts';

const DAY_MS = 86_400_000;
const shiftDay = (day: string, days: number) => new Date(Date.parse(day) + days * DAY_MS).toISOString().slice(0, 10);

/** GET a JSON document from another store service; null when it does not answer (the page says so). */
async function read<T>(url: string, token: () => Promise<string>): Promise<T | null> {
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${await token()}` }, signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as T) : null;
  } catch {
    return null;
  }
}

/**
 * The store manager's live dashboard (GET / on the store API's port): today's
 * sales hour by hour against the same weekday last week, top sellers, low and
 * out-of-stock items, the latest stock alerts, anomalies, the link to HQ and
 * the quarantine (records set aside, from the store database), and what to
 * order today with why (replenishment). Stock comes from this
 * service's ledger; sales from the trends service and the link from the sync
 * service, over their APIs (services talk over HTTP, never through each
 * other's code). A service that does not answer shows as unavailable.
 */
export function storeDashboard(options: { pool: Pool; storeId: string; timeZone: string; trendsUrl: string; syncUrl: string; logger: Logger; intervalMs?: number }): Dashboard {
  const { pool, trendsUrl, syncUrl } = options;
  // Trends and sync ask for a store viewer's token like from anyone: the dashboard holds its own,
  // issued on first use (re-issuing revokes the previous process's: one live token under this name).
  let issued: Promise<string> | undefined;
  const token = () =>
    (issued ??= issueUserToken(pool, { name: 'inventory (store dashboard)', role: 'store-viewer' }).catch((err: unknown) => {
      issued = undefined;
      throw err;
    }));
  return dashboard({
    page: 'store',
    title: 'Tillstream store',
    viewer: 'store-viewer',
    ...dashboardSessions(pool),
    intervalMs: options.intervalMs,
    onError: (err) => options.logger.warn({ err }, 'dashboard snapshot failed'),
    snapshot: async () => {
      const summary = await read<SalesSummary>(`${trendsUrl}/v1/sales/summary`, token);
      const day = summary?.businessDay ?? new Date().toISOString().slice(0, 10);
      const lastWeek = shiftDay(day, -7);
      const hourly = (d: string) => read<SalesTimeseries>(`${trendsUrl}/v1/sales/timeseries?granularity=1h&from=${d}T00:00:00Z&to=${shiftDay(d, 1)}T00:00:00Z`, token);
      const now = new Date();
      const [today, weekAgo, top, anomalies, sync, stock, alerts, quarantine, replenishment] = await Promise.all([
        hourly(day),
        hourly(lastWeek),
        read<TopSellers>(`${trendsUrl}/v1/sales/top?window=today&by=revenue&limit=10`, token),
        read<SalesAnomalies>(`${trendsUrl}/v1/sales/anomalies?limit=10`, token),
        read<SyncStatus>(`${syncUrl}/v1/sync/status`, token),
        listItems(pool, { states: ['OUT', 'NEGATIVE', 'LOW'], limit: 50 }),
        latestAlerts(pool, { limit: 15 }),
        quarantineView(pool, 'store', { limit: 20 }),
        // The same computation as GET /v1/inventory/replenishment?due=today: the page and the API agree.
        replenishmentSuggestions(pool, { storeId: options.storeId, today: businessDayAt(now, options.timeZone), now, dueToday: true }),
      ]);
      return {
        businessDay: day,
        lastWeekDay: lastWeek,
        summary: summary?.figures ?? null,
        hourly: { today: today?.points ?? null, lastWeek: weekAgo?.points ?? null },
        top: top?.items ?? null,
        anomalies: anomalies?.anomalies ?? null,
        sync,
        stock: stock.items,
        replenishment: replenishment.slice(0, 50),
        alerts: alerts.alerts,
        quarantine,
      } satisfies StoreDashboardSnapshot;
    },
  });
}
