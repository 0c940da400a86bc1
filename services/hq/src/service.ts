import { hqInventoryAlerts, hqInventoryLevels, hqSalesAggregates, hqTopics, hqTransactions, type TopicSpec } from '@tillstream/contracts';
import { bookingConsumer, startWhenReachable } from '@tillstream/consumer-service';
import { classifyPgError, createPool, isTransientPgError, migrate, type PoolClient } from '@tillstream/db';
import { listen, serviceApp } from '@tillstream/http';
import { TypedProducer, createKafkaClient, ensureTopics, type ConsumerRunner } from '@tillstream/kafka';
import { createLogger, createMetricsRegistry, type Logger } from '@tillstream/observability';
import type { HqEnv } from './env.ts';
import { Reconciler } from './reconcile.ts';
import { chainRouter } from './routes/chain.ts';
import { storeRouter } from './routes/stores.ts';
import { writeAggregates, writeAlerts, writeLevels, writeTransactions } from './views.ts';

export interface HqService {
  url: string;
  stop(): Promise<void>;
}

/** The consumer group of each HQ view (the reconciler reads the transaction group's offsets). */
export function hqGroup(prefix: string, spec: Pick<TopicSpec, 'name'>): string {
  return `${prefix}hq-views.${spec.name}`;
}

/**
 * HQ: the API stores upload to (batches applied once, manifests, replays,
 * catalog), HQ's consumers that build the chain views from HQ's own topics
 * effectively once, and the reconciler that proves each store day complete.
 */
export async function startHq(env: HqEnv, options: { logger?: Logger } = {}): Promise<HqService> {
  const logger = options.logger ?? createLogger({ name: 'hq', level: env.LOG_LEVEL });
  await migrate({ databaseUrl: env.DATABASE_URL, target: 'hq', logger });
  const pool = createPool({ connectionString: env.DATABASE_URL, logger, applicationName: 'hq', max: env.DATABASE_POOL_MAX });
  const kafka = createKafkaClient({ brokers: env.HQ_KAFKA_BROKERS, clientId: 'hq', logger });
  const producer = new TypedProducer({ kafka, logger, source: 'hq', topicPrefix: env.HQ_TOPIC_PREFIX });
  const registry = createMetricsRegistry({ service: 'hq' });

  const view = <Data>(spec: TopicSpec<Data>, write: (client: PoolClient, data: Data[]) => Promise<void>): ConsumerRunner<Data> =>
    bookingConsumer<Data>({
      kafka,
      logger,
      pool,
      groupId: hqGroup(env.HQ_TOPIC_PREFIX, spec),
      spec,
      topicPrefix: env.HQ_TOPIC_PREFIX,
      deadLetterProducer: producer,
      maxBatchSize: 5000,
      sessionTimeoutMs: env.CONSUMER_SESSION_TIMEOUT_MS,
      book: (client, records) => write(client, records.map((r) => r.envelope.data)),
    });
  const consumers: Array<Pick<ConsumerRunner<unknown>, 'start' | 'stop'>> = [
    view(hqTransactions, writeTransactions),
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

  let stopping = false;
  let consuming = false;
  const started = startWhenReachable(
    logger,
    "HQ's consumers",
    async () => {
      await ensureTopics({ kafka, logger, prefix: env.HQ_TOPIC_PREFIX, specs: hqTopics });
      await producer.connect();
      await Promise.all(consumers.map((c) => c.start()));
      consuming = true;
      reconciler.start();
    },
    () => stopping,
  );

  const app = serviceApp({
    registry,
    logger,
    ready: {
      database: async () => {
        await pool.query('SELECT 1');
      },
      broker: async () => {
        if (!consuming) throw new Error("HQ's broker is not reachable yet");
      },
    },
    routes: [
      storeRouter({ pool, producer, tokenCacheMs: env.STORE_TOKEN_CACHE_MS, batchLimitBytes: env.BATCH_BODY_LIMIT_BYTES }),
      chainRouter({ pool, offlineAfterSeconds: env.OFFLINE_AFTER_SECONDS, adminToken: env.HQ_ADMIN_TOKEN }),
    ],
    classify: (err) => (isTransientPgError(err) ? classifyPgError(err) : err),
  });
  const http = await listen(app, env.HOST, env.PORT);
  logger.info({ url: http.url }, 'hq listening');

  let stopped: Promise<void> | undefined;
  return {
    url: http.url,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        const closed = http.close();
        await started;
        await reconciler.stop();
        if (consuming) await Promise.all(consumers.map((c) => c.stop()));
        await producer.disconnect();
        await closed;
        await pool.end();
        logger.info('hq stopped');
      })()),
  };
}
