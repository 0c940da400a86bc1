import { forecastDemand, inventoryAlerts, inventoryLevels, inventoryReplenishment, type ForecastDemand } from '@tillstream/contracts';
import { repeatEvery, startConsumerService, type RunningService, type ServiceWorker } from '@tillstream/consumer-service';
import { createMetricsRegistry, type Logger } from '@tillstream/observability';
import type { InventoryEnv } from './env.ts';
import { OUTBOX_PUBLISHER, applyMovements, recordPosTransactions, type LedgerContext } from './ledger.ts';
import { applyStoreCatalog } from './catalog.ts';
import { createInventoryMetrics } from './metrics.ts';
import { storeDashboard } from './dashboard.ts';
import { createApp } from './app.ts';
import { storeForecasts } from './forecasts.ts';
import { publishChangedSuggestions } from './suggestions.ts';

export type InventoryService = RunningService;

/**
 * The inventory service: books every POS line into the stock ledger (effects
 * and offset in one database transaction), serves the inventory part of the
 * store API and the store dashboard, publishes levels and alerts.
 */
export function startInventory(env: InventoryEnv, options: { logger?: Logger } = {}): Promise<InventoryService> {
  const registry = createMetricsRegistry({ service: OUTBOX_PUBLISHER });
  const metrics = createInventoryMetrics(registry);
  const ledger: LedgerContext = { storeId: env.STORE_ID, policy: { bandPercent: env.ALERT_BAND_PERCENT } };
  // The dashboard's live streams, closed first on stop (its board is made with the app, from the service's pool).
  const workers: ServiceWorker[] = [];
  return startConsumerService({
    name: OUTBOX_PUBLISHER,
    env,
    registry,
    ...(options.logger ? { logger: options.logger } : {}),
    publishes: [inventoryLevels, inventoryAlerts, inventoryReplenishment],
    book: async (client, records) => {
      const recorded = await recordPosTransactions(
        client,
        records.map((r) => ({ tx: r.envelope.data, partition: r.partition, offset: r.offset })),
      );
      const changes = await applyMovements(client, recorded.groups, recorded.items, ledger);
      return { changes, booked: recorded.booked, groups: recorded.groups };
    },
    afterCommit: ({ changes, booked, groups }, records) => {
      metrics.transactions.inc({ outcome: 'booked' }, booked);
      metrics.transactions.inc({ outcome: 'duplicate' }, records.length - booked);
      const byKind = new Map<string, number>();
      for (const g of groups) byKind.set(g.kind, (byKind.get(g.kind) ?? 0) + g.count);
      for (const [kind, n] of byKind) metrics.movements.inc({ kind }, n);
      for (const change of changes.values()) if (change.alert) metrics.alerts.inc({ type: change.alert.type });
    },
    // The store's demand forecasts (trends), the latest per SKU, for replenishment: stored with the feed's offset.
    feeds: [
      {
        name: 'forecasts',
        spec: forecastDemand,
        book: async (client, records) => {
          await storeForecasts(client, records.map((r) => r.envelope.data as ForecastDemand));
        },
        afterCommit: (records) => metrics.forecasts.inc(records.length),
      },
    ],
    createApp: ({ pool, logger, registry, published, consuming }) => {
      // HQ's catalog, as sync stored it, reaches the items through the ledger (alert states re-evaluated and published).
      const catalogLog = logger.child({ component: 'catalog' });
      const catalog = repeatEvery(
        env.CATALOG_POLL_MS,
        async () => {
          const applied = await applyStoreCatalog(pool, ledger);
          if (!applied) return;
          published();
          for (const change of applied.changes.values()) if (change.alert) metrics.alerts.inc({ type: change.alert.type });
          catalogLog.info({ version: applied.version, items: applied.items }, 'catalog applied to items');
        },
        (err) => catalogLog.warn({ err }, 'cannot apply the catalog now; retrying'),
      );
      workers.push({ name: 'catalog', stop: () => catalog.stop() });
      // Suggestions for HQ: each SKU's, when it changed, through the outbox (synced like the levels).
      const replenishmentLog = logger.child({ component: 'replenishment' });
      const replenishment = repeatEvery(
        env.REPLENISHMENT_PUBLISH_MS,
        async () => {
          if ((await publishChangedSuggestions(pool, { storeId: env.STORE_ID, timeZone: env.STORE_TIME_ZONE, now: new Date() })) > 0) published();
        },
        (err) => replenishmentLog.warn({ err }, 'cannot publish replenishment suggestions now; retrying'),
      );
      workers.push({ name: 'replenishment', stop: () => replenishment.stop() });
      const board = storeDashboard({
        pool,
        storeId: env.STORE_ID,
        timeZone: env.STORE_TIME_ZONE,
        trendsUrl: env.TRENDS_URL,
        syncUrl: env.SYNC_URL,
        intervalMs: env.DASHBOARD_INTERVAL_MS,
        logger: logger.child({ component: 'dashboard' }),
      });
      workers.push({ name: 'dashboard', stop: () => board.close() });
      return createApp({
        pool,
        logger,
        registry,
        ledger,
        bodyLimitBytes: env.BODY_LIMIT_BYTES,
        trendsUrl: env.TRENDS_URL,
        syncUrl: env.SYNC_URL,
        timeZone: env.STORE_TIME_ZONE,
        published,
        consuming,
        dashboard: board.router,
      });
    },
    workers,
  });
}
