import type { TopicSpec } from '@tillstream/contracts';
import { consumerOffsetHooks, withConsumerTransaction, type Pool, type PoolClient } from '@tillstream/db';
import { ConsumerRunner, type ConsumedRecord, type Kafka, type TypedProducer } from '@tillstream/kafka';
import type { Logger } from '@tillstream/observability';

export interface BookingConsumerOptions<Data> {
  kafka: Kafka;
  logger: Logger;
  pool: Pool;
  groupId: string;
  spec: TopicSpec<Data>;
  topicPrefix: string;
  deadLetterProducer: TypedProducer;
  maxBatchSize?: number;
  sessionTimeoutMs?: number;
  /** Writes one batch's effects; the next offset is stored in the same transaction after it. */
  book(client: PoolClient, records: ConsumedRecord<Data>[]): Promise<void>;
  /** After the batch committed. */
  afterCommit?(records: ConsumedRecord<Data>[]): void;
}

/**
 * A consumer whose effects and offsets live in one PostgreSQL transaction per
 * batch (ARCHITECTURE.md invariant 2): it resumes from the offset stored with
 * the effects, and moves past a dead-lettered record in the database too.
 * Every Tillstream consumer, store or HQ, is one of these.
 */
export function bookingConsumer<Data>(options: BookingConsumerOptions<Data>): ConsumerRunner<Data> {
  const { pool, groupId } = options;
  return new ConsumerRunner<Data>({
    kafka: options.kafka,
    logger: options.logger,
    groupId,
    spec: options.spec,
    topicPrefix: options.topicPrefix,
    deadLetterProducer: options.deadLetterProducer,
    ...(options.maxBatchSize === undefined ? {} : { maxBatchSize: options.maxBatchSize }),
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...consumerOffsetHooks(pool, groupId),
    handleBatch: async (records, batch) => {
      const position = { groupId, topic: batch.topic, partition: batch.partition, nextOffset: batch.nextOffset };
      await withConsumerTransaction(pool, position, (client) => options.book(client, records));
      options.afterCommit?.(records);
    },
  });
}
