import type { TopicSpec } from '@tillstream/contracts';
import { consumerOffsetHooks, recordQuarantine, withConsumerTransaction, type Pool, type PoolClient, type QuarantineTarget } from '@tillstream/db';
import { ConsumerRunner, requestIdHeader, type ConsumedRecord, type Kafka, type TypedProducer } from '@tillstream/kafka';
import { deadLetteredCounter, type Logger, type Registry } from '@tillstream/observability';

export interface BookingConsumerOptions<Data> {
  kafka: Kafka;
  logger: Logger;
  pool: Pool;
  groupId: string;
  /** The service's Kafka principal, named when the broker refuses it. */
  principal?: string | undefined;
  spec: TopicSpec<Data>;
  topicPrefix: string;
  deadLetterProducer: TypedProducer;
  maxBatchSize?: number;
  sessionTimeoutMs?: number;
  /** The service ("inventory", "sync", "hq"): quarantine entries name it. */
  service: string;
  /**
   * Where dead letters are quarantined: a store's `quarantine` (forwarded to
   * HQ through the sync outbox) or HQ's `hq_quarantine`.
   */
  quarantine: QuarantineTarget;
  /** The store whose database this is (at HQ: the store named when a record names none). */
  storeId: string;
  /** Counts dead letters (`dead_lettered_total`). */
  registry: Registry;
  /** Writes one batch's effects; the next offset is stored in the same transaction after it. */
  book(client: PoolClient, records: ConsumedRecord<Data>[]): Promise<void>;
  /** After the batch committed. */
  afterCommit?(records: ConsumedRecord<Data>[]): void;
  /**
   * The transaction a record is (POS topics): named beside its request id in
   * the line logged for each booked record that carries one.
   */
  transactionIdOf?: ((data: Data) => string) | undefined;
}

/** What a service says of one of its consumers; the runtime adds its client, logger, pool, principal, topic prefix, dead-letter producer and name. */
export type ServiceConsumerOptions<Data> = Omit<BookingConsumerOptions<Data>, 'kafka' | 'logger' | 'pool' | 'principal' | 'topicPrefix' | 'deadLetterProducer' | 'service'>;

/** Writes one batch as its records' data and request ids (HQ's views, sync's outbox feeds). */
export type DataWriter<Data> = (client: PoolClient, data: Data[], requestIds: Array<string | undefined>) => Promise<void>;

/** A consumer's book() that hands `write` the data and request ids of the records `keep` keeps (default all). */
export function writeData<Data>(write: DataWriter<Data>, keep: (record: ConsumedRecord<Data>) => boolean = () => true): BookingConsumerOptions<Data>['book'] {
  return (client, records) => {
    const kept = records.filter(keep);
    return write(client, kept.map((r) => r.envelope.data), kept.map((r) => requestIdHeader(r.headers)));
  };
}

/**
 * One line per booked record that carries a request id (a POS transaction,
 * from the terminal's request at ingest), so a sale's id appears in every
 * service's log on its way to HQ; records derived from many transactions
 * carry none and are not logged one by one.
 */
function logTraced<Data>(logger: Logger, records: readonly ConsumedRecord<Data>[], transactionIdOf: ((data: Data) => string) | undefined): void {
  for (const record of records) {
    const requestId = requestIdHeader(record.headers);
    if (requestId === undefined) continue;
    const transactionId = transactionIdOf?.(record.envelope.data);
    logger.info({ requestId, ...(transactionId ? { transactionId } : {}), topic: record.topic, partition: record.partition, offset: record.offset }, 'record booked');
  }
}

/**
 * A consumer whose effects and offsets live in one PostgreSQL transaction per
 * batch (ARCHITECTURE.md invariant 2): it resumes from the offset stored with
 * the effects, and moves past a dead-lettered record in the database too, in
 * the transaction that quarantines it (invariant 7: poison is never silent).
 * Every Tillstream consumer, store or HQ, is one of these.
 */
export function bookingConsumer<Data>(options: BookingConsumerOptions<Data>): ConsumerRunner<Data> {
  const { pool, groupId } = options;
  const deadLettered = deadLetteredCounter(options.registry);
  return new ConsumerRunner<Data>({
    kafka: options.kafka,
    logger: options.logger,
    groupId,
    principal: options.principal,
    spec: options.spec,
    topicPrefix: options.topicPrefix,
    deadLetterProducer: options.deadLetterProducer,
    ...(options.maxBatchSize === undefined ? {} : { maxBatchSize: options.maxBatchSize }),
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...consumerOffsetHooks(pool, groupId),
    onDeadLettered: async (dead) => {
      const position = { groupId, topic: dead.topic, partition: dead.partition, fromOffset: dead.offset, nextOffset: dead.nextOffset };
      const entry = await withConsumerTransaction(pool, position, (client, from) =>
        // Past it already (another member quarantined it first): nothing to record twice.
        BigInt(dead.offset) < from ? Promise.resolve(undefined) : recordQuarantine(client, options.quarantine, options.storeId, {
          source: 'dead-letter',
          service: options.service,
          consumerGroup: groupId,
          topic: dead.topic,
          partition: dead.partition,
          offset: dead.offset,
          key: dead.key,
          value: dead.value,
          headers: dead.headers,
          code: dead.code,
          message: dead.message,
        }),
      );
      if (!entry) return;
      deadLettered.inc({ topic: dead.topic, code: dead.code });
      options.logger.warn({ quarantineId: entry.id, topic: dead.topic, offset: dead.offset, code: dead.code, transactionId: entry.transactionId }, 'record quarantined');
    },
    handleBatch: async (records, batch) => {
      const position = { groupId, topic: batch.topic, partition: batch.partition, fromOffset: records[0]!.offset, nextOffset: batch.nextOffset };
      let booked = records;
      await withConsumerTransaction(pool, position, async (client, from) => {
        // Below `from`, another member (or this one, before a seek) booked them already: the fence leaves them be.
        if (BigInt(records[0]!.offset) < from) {
          booked = records.filter((r) => BigInt(r.offset) >= from);
          options.logger.info({ topic: batch.topic, partition: batch.partition, from: from.toString(), skipped: records.length - booked.length }, 'records already booked at the stored offset; skipping them');
        }
        if (booked.length > 0) await options.book(client, booked);
      });
      if (booked.length === 0) return;
      logTraced(options.logger, booked, options.transactionIdOf);
      options.afterCommit?.(booked);
    },
  });
}
