import { hqInventoryAlerts, hqInventoryLevels, hqSalesAggregates, hqTopics, hqTransactions, type TopicSpec } from '@tillstream/contracts';
import { startService, writeData, type DataWriter, type RunningService } from '@tillstream/consumer-service';
import type { ConsumerRunner } from '@tillstream/kafka';
import { createMetricsRegistry, type Logger } from '@tillstream/observability';
import type { HqEnv } from './env.ts';
import { Reconciler } from './reconcile.ts';
import { hqDashboard } from './dashboard.ts';
import { createApp } from './app.ts';
import { writeAggregates, writeAlerts, writeLevels, writeTransactions } from './views.ts';
import { startStorageUpkeep } from './storage.ts';

export type HqService = RunningService;

/** The consumer group of each HQ view (the reconciler reads the transaction group's offsets). */
export function hqGroup(prefix: string, spec: Pick<TopicSpec, 'name'>): string {
  return `${prefix}hq-views.${spec.name}`;
}

/**
 * HQ: the API stores upload to (batches applied once, manifests, replays,
 * catalog), HQ's consumers that build the chain views from HQ's own topics
 * effectively once, and the reconciler that proves each store day complete.
 */
export function startHq(env: HqEnv, options: { logger?: Logger } = {}): Promise<HqService> {
  return startService({ name: 'hq', env, logger: options.logger, kafka: { brokers: env.HQ_KAFKA_BROKERS, topicPrefix: env.HQ_TOPIC_PREFIX } }, ({ logger, pool, kafka, producer, consumer }) => {
    const registry = createMetricsRegistry({ service: 'hq' });
    const view = <Data>(spec: TopicSpec<Data>, write: DataWriter<Data>, transactionIdOf?: (data: Data) => string) =>
      // A record that names no store (not even invalid JSON's envelope) is filed under "unknown".
      consumer({ spec, groupId: hqGroup(env.HQ_TOPIC_PREFIX, spec), maxBatchSize: 5000, sessionTimeoutMs: env.CONSUMER_SESSION_TIMEOUT_MS, quarantine: 'hq', storeId: 'unknown', registry, transactionIdOf, book: writeData(write) });
    const consumers: Array<Pick<ConsumerRunner<unknown>, 'start' | 'stop' | 'denied'>> = [
      view(hqTransactions, writeTransactions, (tx) => tx.transactionId),
      view(hqSalesAggregates, writeAggregates),
      view(hqInventoryLevels, writeLevels),
      view(hqInventoryAlerts, writeAlerts),
    ];
    const reconciler = new Reconciler({
      pool,
      kafka,
      logger: logger.child({ component: 'reconciler' }),
      topicPrefix: env.HQ_TOPIC_PREFIX,
      transactionsGroup: hqGroup(env.HQ_TOPIC_PREFIX, hqTransactions),
      intervalMs: env.RECONCILE_INTERVAL_MS,
      reverifyAfterMs: env.REVERIFY_AFTER_MS,
    });

    // Partitions ahead, retention and pruning: PostgreSQL only, so it starts with the process, not with the broker.
    const upkeep = startStorageUpkeep(
      pool,
      { retentionMonths: env.HQ_RETENTION_MONTHS, partitionsAhead: env.HQ_PARTITIONS_AHEAD, batchRetentionDays: env.HQ_BATCH_RETENTION_DAYS },
      env.HQ_STORAGE_INTERVAL_MS,
      logger.child({ component: 'storage' }),
    );
    const board = hqDashboard({ pool, offlineAfterSeconds: env.OFFLINE_AFTER_SECONDS, logger: logger.child({ component: 'dashboard' }) });
    return {
      broker: { topics: hqTopics, consumers, onConsuming: () => reconciler.start() },
      app: ({ consuming }) =>
        createApp({
          config: { batchLimitBytes: env.BATCH_BODY_LIMIT_BYTES, catalogLimitBytes: env.CATALOG_BODY_LIMIT_BYTES, tokenCacheMs: env.STORE_TOKEN_CACHE_MS, offlineAfterSeconds: env.OFFLINE_AFTER_SECONDS },
          pool,
          producer,
          logger,
          registry,
          consuming,
          dashboard: board.router,
        }),
      workers: [
        // Live pages first: they hold connections the API's close waits for.
        { name: 'dashboard', stop: () => board.close() },
        { name: 'reconciler', stop: () => reconciler.stop() },
        { name: 'storage', stop: () => upkeep.stop() },
      ],
    };
  });
}
