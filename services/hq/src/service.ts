import { hostname } from 'node:os';
import type { Express } from 'express';
import { hqInventoryAlerts, hqInventoryLevels, hqInventoryReplenishment, hqLossPreventionAlerts, hqSalesAggregates, hqTopics, hqTransactions, type TopicSpec } from '@tillstream/contracts';
import { siteApp, startService, writeData, type DataWriter, type RunningService, type RuntimeChecks, type ServiceWorker } from '@tillstream/consumer-service';
import { TypedProducer, type ConsumerRunner } from '@tillstream/kafka';
import { createMetricsRegistry, type Logger } from '@tillstream/observability';
import type { HqEnv } from './env.ts';
import { Reconciler } from './reconcile.ts';
import { hqDashboard } from './dashboard.ts';
import { createApp } from './app.ts';
import { admission } from './admission.ts';
import { ProducerSet } from './batches.ts';
import { writeAggregates, writeAlerts, writeLevels, writeLossPreventionAlerts, writeReplenishment, writeTransactions } from './views.ts';
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
 *
 * One code base, started by role (HQ_ROLES): `api` (stateless: run N copies
 * behind a load balancer), `views` (the four view consumers; N copies share
 * the hq.* partitions as one consumer group per view, offsets and effects in
 * one PostgreSQL transaction), `reconciler` (N copies claim distinct
 * manifests with FOR UPDATE SKIP LOCKED), or all three in one process. Every
 * process serves /healthz, /readyz and /metrics; only `api` serves the
 * store and chain routes and the dashboard.
 */
export function startHq(env: HqEnv, options: { logger?: Logger } = {}): Promise<HqService> {
  const roles = new Set(env.HQ_ROLES);
  return startService({ name: 'hq', env, logger: options.logger, kafka: { brokers: env.HQ_KAFKA_BROKERS, topicPrefix: env.HQ_TOPIC_PREFIX } }, ({ logger, pool, kafka, producer, consumer }) => {
    const registry = createMetricsRegistry({ service: 'hq' });
    const view = <Data>(spec: TopicSpec<Data>, write: DataWriter<Data>, transactionIdOf?: (data: Data) => string) =>
      // A record that names no store (not even invalid JSON's envelope) is filed under "unknown".
      consumer({ spec, groupId: hqGroup(env.HQ_TOPIC_PREFIX, spec), maxBatchSize: 5000, sessionTimeoutMs: env.CONSUMER_SESSION_TIMEOUT_MS, quarantine: 'hq', storeId: 'unknown', registry, transactionIdOf, book: writeData(write) });
    const consumers: Array<Pick<ConsumerRunner<unknown>, 'start' | 'stop' | 'denied'>> = roles.has('views')
      ? [
          view(hqTransactions, writeTransactions, (tx) => tx.transactionId),
          view(hqSalesAggregates, writeAggregates),
          view(hqInventoryLevels, writeLevels),
          view(hqInventoryAlerts, writeAlerts),
          view(hqInventoryReplenishment, writeReplenishment),
          view(hqLossPreventionAlerts, writeLossPreventionAlerts),
        ]
      : [];
    const reconciler = roles.has('reconciler')
      ? new Reconciler({
          pool,
          kafka,
          logger: logger.child({ component: 'reconciler' }),
          topicPrefix: env.HQ_TOPIC_PREFIX,
          transactionsGroup: hqGroup(env.HQ_TOPIC_PREFIX, hqTransactions),
          intervalMs: env.RECONCILE_INTERVAL_MS,
          reverifyAfterMs: env.REVERIFY_AFTER_MS,
          recentDays: env.RECONCILE_RECENT_DAYS,
          reverifyOldAfterMs: env.REVERIFY_OLD_AFTER_MS,
          batch: env.RECONCILE_BATCH,
          logDays: env.VERIFICATION_LOG_DAYS,
          verifier: `${hostname()}:${process.pid}`,
        })
      : undefined;
    const workers: ServiceWorker[] = [];
    let app: (checks: RuntimeChecks) => Express;
    const links: ServiceWorker[] = [];
    if (roles.has('api')) {
      // The runtime's producer (connected before the API reports ready) and HQ_PRODUCERS - 1 more, connected on first use.
      const producers = new ProducerSet([
        producer,
        ...Array.from({ length: env.HQ_PRODUCERS - 1 }, () => new TypedProducer({ kafka, logger, source: 'hq', topicPrefix: env.HQ_TOPIC_PREFIX })),
      ]);
      links.push({ name: 'producers', stop: () => producers.stop() });
      const admit = admission({
        pool,
        registry,
        limits: {
          maxBatches: env.ADMIT_MAX_BATCHES,
          maxPoolWaiting: env.ADMIT_MAX_POOL_WAITING,
          maxEventLoopLagMs: env.ADMIT_MAX_EVENT_LOOP_LAG_MS,
          retryAfterSeconds: env.ADMIT_RETRY_AFTER_SECONDS,
        },
      });
      const board = hqDashboard({ pool, offlineAfterSeconds: env.OFFLINE_AFTER_SECONDS, logger: logger.child({ component: 'dashboard' }) });
      // Live pages first: they hold connections the API's close waits for.
      workers.push({ name: 'dashboard', stop: () => board.close() }, { name: 'admission', stop: () => admit.close() });
      app = ({ consuming }) =>
        createApp({
          config: {
            batchLimitBytes: env.BATCH_BODY_LIMIT_BYTES,
            catalogLimitBytes: env.CATALOG_BODY_LIMIT_BYTES,
            tokenCacheMs: env.STORE_TOKEN_CACHE_MS,
            offlineAfterSeconds: env.OFFLINE_AFTER_SECONDS,
            batchClaimLeaseMs: env.BATCH_CLAIM_LEASE_MS,
          },
          pool,
          producer: producers,
          admission: admit,
          logger,
          registry,
          consuming,
          dashboard: board.router,
        });
    } else {
      // Health, readiness and metrics only: a views or reconciler process serves no store or chain route.
      app = ({ consuming }) => siteApp({ pool, logger, registry, site: 'hq', consuming, routes: [], credentialCacheMs: env.STORE_TOKEN_CACHE_MS });
    }
    if (reconciler) {
      workers.push({ name: 'reconciler', stop: () => reconciler.stop() });
      // Partitions ahead, retention and pruning (docs/hq-storage.md): a reconciler's chore, PostgreSQL only, so it
      // starts with the process, not with the broker; one HQ process at a time does a round (a session advisory lock).
      const upkeep = startStorageUpkeep(
        pool,
        { retentionMonths: env.HQ_RETENTION_MONTHS, partitionsAhead: env.HQ_PARTITIONS_AHEAD, batchRetentionDays: env.HQ_BATCH_RETENTION_DAYS },
        env.HQ_STORAGE_INTERVAL_MS,
        logger.child({ component: 'storage' }),
      );
      workers.push({ name: 'storage', stop: () => upkeep.stop() });
    }
    return {
      broker: { topics: hqTopics, consumers, onConsuming: () => reconciler?.start() },
      app,
      workers,
      links,
      logFields: { roles: [...roles] },
    };
  });
}
