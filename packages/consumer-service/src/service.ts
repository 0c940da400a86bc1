import type { Express } from 'express';
import { assertOwnStore, posTransactions, type AnyTopicSpec, type PosTransaction, type TopicSpec } from '@tillstream/contracts';
import { outboxStore, type Pool, type PoolClient } from '@tillstream/db';
import { OutboxPublisher, type ConsumedRecord, type OutboxSource } from '@tillstream/kafka';
import { createMetricsRegistry, Gauge, Histogram, type Logger, type Registry } from '@tillstream/observability';
import { startService, type RunningService, type RuntimeChecks, type ServiceWorker } from './runtime.ts';
import type { ConsumerServiceEnv } from './env.ts';

export interface ConsumerServiceContext {
  pool: Pool;
  logger: Logger;
  registry: Registry;
  /** Wakes the outbox publisher after a write outside the consumer (an API call). */
  published: () => void;
}

/**
 * A further booking by the same service, as its own consumer group
 * ("<the service's group>.<name>") with its own tables: its effects and its
 * offset commit in one database transaction per batch, like the POS
 * consumer, so a feature can be rebuilt from offset 0, or fall behind,
 * without touching the main booking. Either the POS topic again (trends:
 * loss prevention) or another topic (inventory: the store's demand
 * forecasts). A POS record of another store is refused as the main booking
 * refuses it (WRONG_STORE); another topic's records of another store (a
 * shared demo broker) are skipped. Only this store's records reach `book`.
 */
export interface ConsumerFeed<Data> {
  /** "forecasts", "lossprev": the consumer group's suffix and the log's name for it. */
  name: string;
  spec: TopicSpec<Data>;
  /** `catchingUp`: more than PUBLISH_HOLD_LAG records wait behind this batch (work that can wait for the backlog's end may). */
  book(client: PoolClient, records: ConsumedRecord<Data>[], context: { catchingUp: boolean }): Promise<void>;
  /** After the batch committed (metrics). */
  afterCommit?(records: ConsumedRecord<Data>[]): void;
}

export interface ConsumerServiceDefinition<Booked> {
  /** "inventory": logger and client names, the default consumer group suffix, the outbox publisher. */
  name: string;
  env: ConsumerServiceEnv;
  logger?: Logger | undefined;
  /** The service's metrics registry, if it registers metrics of its own; default a new one. */
  registry?: Registry;
  /** Topics this service publishes to through its outbox. */
  publishes: readonly AnyTopicSpec[];
  /**
   * How long the outbox publisher waits after a round that published
   * something; longer coalesces more restatements of the same state rows.
   * Default 50 ms.
   */
  publishLingerMs?: number;
  /** Sources of events besides the event outbox (state rows published by revision). */
  outboxSources?(pool: Pool): OutboxSource[];
  /** Books one batch of this store's POS transactions inside the consumer's database transaction. */
  book(client: PoolClient, records: ConsumedRecord<PosTransaction>[]): Promise<Booked>;
  /** After the batch committed (metrics). */
  afterCommit?(booked: Booked, records: ConsumedRecord<PosTransaction>[]): void;
  /** Further bookings (each its own consumer group; see ConsumerFeed); they publish through the same outbox. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous list; each feed books its own data
  feeds?: ReadonlyArray<ConsumerFeed<any>>;
  /** The service's createApp: its API (siteApp with its routes), given the runtime's readiness check. */
  createApp(ctx: ConsumerServiceContext & RuntimeChecks): Express;
  /** Stopped first when the service stops (what holds connections open, such as live dashboards). */
  workers?: ServiceWorker[];
}

/**
 * Runs a store service that books pos.transactions.v1 into PostgreSQL:
 * (its database migrated beforehand: its role may not run DDL), serves its API at once, consumes the topic (retrying until the
 * broker answers) with effects and offset in one database transaction per
 * batch, resuming from the stored offset, and publishes its outbox.
 * stop() stops consuming, drains the publisher and closes everything.
 */
export function startConsumerService<Booked>(def: ConsumerServiceDefinition<Booked>): Promise<RunningService> {
  const { env, name } = def;
  return startService({ name, env, logger: def.logger, storeId: env.STORE_ID, kafka: { brokers: env.KAFKA_BROKERS, topicPrefix: env.TOPIC_PREFIX } }, ({ logger, pool, producer, consumer: booking }) => {
    const registry = def.registry ?? createMetricsRegistry({ service: name });
    const sources = [outboxStore(pool, name), ...(def.outboxSources?.(pool) ?? [])];
    new Gauge({
      name: 'outbox_backlog',
      help: 'Derived events committed but not yet published to Kafka',
      registers: [registry],
      async collect() {
        this.set((await Promise.all(sources.map((s) => s.backlog()))).reduce((a, b) => a + b, 0));
      },
    });
    new Gauge({
      name: 'consumer_lag_records',
      help: 'POS records the consumer is behind the end of the topic, as of its last batch',
      registers: [registry],
      collect() {
        this.set(consumer.lag);
      },
    });
    const batchSeconds = new Histogram({
      name: 'consume_batch_seconds',
      help: 'Time to book one consumed batch (one database transaction)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const outbox = new OutboxPublisher({
      sources,
      producer,
      logger: logger.child({ component: 'outbox' }),
      storeId: env.STORE_ID,
      specs: def.publishes,
      ...(def.publishLingerMs === undefined ? {} : { lingerMs: def.publishLingerMs }),
      // Catching up on a backlog, derived state is restated by every batch: publish it once, when caught up.
      holdWhile: () => consumer.lag > env.PUBLISH_HOLD_LAG,
    });
    const groupId = env.CONSUMER_GROUP ?? `${env.TOPIC_PREFIX}${name}`;
    const consumer = booking<PosTransaction>({
      groupId,
      spec: posTransactions,
      maxBatchSize: env.CONSUME_MAX_BATCH,
      sessionTimeoutMs: env.CONSUMER_SESSION_TIMEOUT_MS,
      quarantine: 'store',
      storeId: env.STORE_ID,
      registry,
      transactionIdOf: (tx) => tx.transactionId,
      book: async (client, records) => {
        for (const record of records) assertOwnStore(record.envelope.data, env.STORE_ID);
        const stop = batchSeconds.startTimer();
        booked = await def.book(client, records);
        stop();
      },
      afterCommit: (records) => {
        def.afterCommit?.(booked as Booked, records);
        outbox.wake();
      },
    });
    let booked: Booked | undefined;
    const feeds = (def.feeds ?? []).map((feed) => {
      const feedConsumer = booking({
        groupId: `${groupId}.${feed.name}`,
        spec: feed.spec,
        maxBatchSize: env.CONSUME_MAX_BATCH,
        sessionTimeoutMs: env.CONSUMER_SESSION_TIMEOUT_MS,
        quarantine: 'store',
        storeId: env.STORE_ID,
        registry,
        book: async (client, records) => {
          const context = { catchingUp: feedConsumer.lag > env.PUBLISH_HOLD_LAG };
          if (feed.spec.name === posTransactions.name) {
            for (const record of records) assertOwnStore(record.envelope.data as PosTransaction, env.STORE_ID);
            await feed.book(client, records, context);
          } else {
            await feed.book(client, records.filter((r) => r.envelope.storeId === env.STORE_ID), context);
          }
        },
        afterCommit: (records) => {
          feed.afterCommit?.(records);
          outbox.wake();
        },
      });
      return feedConsumer;
    });

    return {
      broker: {
        // What it reads and writes, and nothing else: its principal may not even see the other topics.
        topics: [posTransactions, ...(def.feeds ?? []).filter((f) => f.spec.name !== posTransactions.name).map((f) => f.spec), ...def.publishes],
        consumers: [consumer, ...feeds],
        onConsuming: () => outbox.start(),
      },
      app: (checks) => def.createApp({ pool, logger, registry, published: () => outbox.wake(), ...checks }),
      logFields: { topicPrefix: env.TOPIC_PREFIX },
      ...(def.workers ? { workers: def.workers } : {}),
      drains: [{ name: 'outbox', stop: () => outbox.stop() }],
    };
  });
}
