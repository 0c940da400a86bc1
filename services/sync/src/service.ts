import { readFileSync } from 'node:fs';
import { inventoryAlerts, inventoryLevels, inventoryReplenishment, lossPreventionAlerts, posTransactions, salesAggregates, topicName, type TopicSpec } from '@tillstream/contracts';
import { startService, writeData, type DataWriter, type RunningService } from '@tillstream/consumer-service';
import type { ConsumerRunner } from '@tillstream/kafka';
import { Counter, createMetricsRegistry, Gauge, type Logger } from '@tillstream/observability';
import type { SyncEnv } from './env.ts';
import { HqClient } from './hq-client.ts';
import { backlog, outboxWriters } from './outbox.ts';
import { quarantineRefused } from './quarantine.ts';
import { createApp } from './app.ts';
import type { LinkState } from './routes/status.ts';
import { Sweeper } from './sweeper.ts';
import { checkRedisLogin, Uploader, type RedisLogin } from './uploader.ts';

/** The consumer group of each topic sync feeds its outbox from. */
export function syncGroup(prefix: string, spec: Pick<TopicSpec, 'name'>): string {
  return `${prefix}sync.${spec.name}`;
}

/**
 * The Redis URL and connection options: the ACL user, its password from the
 * secret file (never defaulted; else the URL's) and the CA of a TLS server.
 * ioredis lets any user or password in the URL, even an empty one, win over
 * the options, so they move from the URL to the options.
 */
function redisConnection(env: SyncEnv): { url: string; options: RedisLogin } {
  const url = new URL(env.REDIS_URL);
  const username = decodeURIComponent(url.username);
  const password = env.REDIS_PASSWORD_FILE ? readFileSync(env.REDIS_PASSWORD_FILE, 'utf8').trim() : decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return {
    url: url.toString(),
    options: {
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(env.REDIS_CA_FILE ? { tls: { ca: readFileSync(env.REDIS_CA_FILE, 'utf8') } } : {}),
    },
  };
}

export interface SyncService extends RunningService {
  /** Runs the sweeper's chores now (tests: no waiting for the next interval). */
  sweep(): Promise<void>;
}

/**
 * The store's link to HQ: consumes the store's topics into the sync outbox
 * (effects and offsets in one transaction), uploads it in batches through
 * BullMQ jobs, sends day manifests, answers replays and applies HQ's catalog.
 * It runs beside the selling path and never slows it: ingest, inventory and
 * trends do not wait for it, and HQ being away only grows the outbox.
 */
export async function startSync(env: SyncEnv, options: { logger?: Logger } = {}): Promise<SyncService> {
  const redis = redisConnection(env);
  await checkRedisLogin(redis.url, redis.options);
  let sweeper: Sweeper | undefined;
  const running = await startService({ name: 'sync', env, logger: options.logger, storeId: env.STORE_ID, kafka: { brokers: env.KAFKA_BROKERS, topicPrefix: env.TOPIC_PREFIX } }, ({ logger, pool, consumer }) => {
    const registry = createMetricsRegistry({ service: 'sync' });

    const link: LinkState = { reachable: null, lastError: null, lastAttemptAt: null };
    const hq = new HqClient({
      url: env.HQ_URL,
      ...(env.HQ_CLIENT_CERT_FILE && env.HQ_CLIENT_KEY_FILE
        ? {
            tls: {
              cert: readFileSync(env.HQ_CLIENT_CERT_FILE, 'utf8'),
              key: readFileSync(env.HQ_CLIENT_KEY_FILE, 'utf8'),
              ...(env.HQ_CA_FILE ? { ca: readFileSync(env.HQ_CA_FILE, 'utf8') } : {}),
            },
          }
        : {}),
      storeId: env.STORE_ID,
      token: env.HQ_TOKEN,
      timeoutMs: env.HQ_TIMEOUT_MS,
      retry: { baseMs: env.RETRY_BASE_MS, maxMs: env.RETRY_MAX_MS },
      onOutcome: (reachable, error) => {
        if (reachable !== link.reachable) logger.info({ hq: env.HQ_URL, error }, reachable ? 'HQ reachable' : 'HQ unreachable; the store keeps selling and syncs later');
        link.reachable = reachable;
        link.lastError = error ?? null;
        link.lastAttemptAt = new Date().toISOString();
      },
    });
    const refused = new Counter({
      name: 'sync_upload_refused_total',
      help: 'Outbox records HQ refused on their own (set aside and quarantined), by HQ problem code',
      labelNames: ['code'],
      registers: [registry],
    });
    const uploader = new Uploader({
      redisUrl: redis.url,
      redisOptions: redis.options,
      queueName: env.SYNC_QUEUE ?? `tillstream-sync-${env.TOPIC_PREFIX}${env.STORE_ID}`,
      pool,
      hq,
      storeId: env.STORE_ID,
      logger: logger.child({ component: 'uploader' }),
      retry: { baseMs: env.RETRY_BASE_MS, maxMs: env.RETRY_MAX_MS },
      onSetAside: (client, record) => quarantineRefused(client, { storeId: env.STORE_ID, logger, refused }, record),
    });
    const sweeps = new Sweeper({
      pool,
      hq,
      uploader,
      storeId: env.STORE_ID,
      posConsumer: { groupId: syncGroup(env.TOPIC_PREFIX, posTransactions), topic: topicName(env.TOPIC_PREFIX, posTransactions) },
      logger: logger.child({ component: 'sweeper' }),
      batchRecords: env.SYNC_BATCH_RECORDS,
      batchBytes: env.SYNC_BATCH_BYTES,
      intervalMs: env.SWEEP_INTERVAL_MS,
      manifestIntervalMs: env.MANIFEST_INTERVAL_MS,
      manifestDays: env.MANIFEST_DAYS,
      catalogIntervalMs: env.CATALOG_INTERVAL_MS,
      heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
      retentionDays: env.SYNC_RETENTION_DAYS,
      choreDeadlineMs: env.SYNC_CHORE_DEADLINE_MS,
      coalesceMs: env.SYNC_COALESCE_MS,
      batchMinRecords: env.SYNC_BATCH_MIN_RECORDS,
      batchMaxDelayMs: env.SYNC_BATCH_MAX_DELAY_MS,
    });
    new Gauge({
      name: 'sync_backlog_records',
      help: 'Outbox records HQ has not acknowledged',
      registers: [registry],
      async collect() {
        this.set((await backlog(pool)).records);
      },
    });

    // Records of another store (a shared demo broker) are not this store's to upload.
    const feed = <Data>(spec: TopicSpec<Data>, append: DataWriter<Data>, transactionIdOf?: (data: Data) => string) =>
      consumer({ spec, groupId: syncGroup(env.TOPIC_PREFIX, spec), maxBatchSize: 5000, sessionTimeoutMs: env.CONSUMER_SESSION_TIMEOUT_MS, quarantine: 'store', storeId: env.STORE_ID, registry, transactionIdOf, book: writeData(append, (r) => r.envelope.storeId === env.STORE_ID) });
    // Windows and levels wait in sync_pending for their latest revision (SYNC_COALESCE_MS=0: straight into the outbox, every revision).
    const appendOutbox = outboxWriters({ coalesce: env.SYNC_COALESCE_MS > 0 });
    const consumers: Array<Pick<ConsumerRunner<unknown>, 'start' | 'stop' | 'denied'>> = [
      feed(posTransactions, appendOutbox.transactions, (tx) => tx.transactionId),
      feed(salesAggregates, appendOutbox.aggregates),
      feed(inventoryLevels, appendOutbox.levels),
      feed(inventoryAlerts, appendOutbox.alerts),
      feed(inventoryReplenishment, appendOutbox.replenishment),
      feed(lossPreventionAlerts, appendOutbox.lossPreventionAlerts),
    ];

    uploader.start();
    sweeps.start();
    sweeper = sweeps;
    // Set when the stop begins: the chores and the queue share SYNC_STOP_DEADLINE_MS from then, whatever Redis or HQ do.
    let stopBy = Infinity;
    return {
      // What it reads, and nothing else: its principal may not even see the other topics.
      broker: { topics: [posTransactions, salesAggregates, inventoryLevels, inventoryAlerts, inventoryReplenishment, lossPreventionAlerts], consumers },
      app: ({ consuming }) => createApp({ storeId: env.STORE_ID, hqUrl: env.HQ_URL, pool, logger, registry, link, uploader, consuming }),
      logFields: { hq: env.HQ_URL },
      workers: [
        {
          name: 'sweeper',
          stop: () => {
            stopBy = Date.now() + env.SYNC_STOP_DEADLINE_MS;
            return sweeps.stop(stopBy);
          },
        },
        { name: 'uploader', stop: () => uploader.close(Math.max(0, stopBy - Date.now())) },
        { name: 'hq client', stop: () => hq.close() },
      ],
      // Its own deadline, and a little more for the consumers, the pool and the API.
      stopDeadlineMs: env.SYNC_STOP_DEADLINE_MS + 5000,
    };
  });
  const chores = sweeper as Sweeper;
  return { ...running, sweep: () => chores.round() };
}
