import { randomUUID } from 'node:crypto';
import { posTransactions, type Envelope, type PosTransaction } from '@tillstream/contracts';
import { decodeHeaders, topicRecordCount, type Kafka } from '@tillstream/kafka';

export interface RawRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}


/**
 * Every record of a topic, read from the beginning with a throwaway consumer
 * group: as many as the topic holds now, or, with `atLeast`, waiting (up to
 * 20 s) until that many arrived (records produced in the background, such as
 * dead letters). Sorted by partition and offset.
 */
export async function readRecords(kafka: Kafka, topic: string, options: { atLeast?: number } = {}): Promise<RawRecord[]> {
  const total = options.atLeast ?? (await topicRecordCount(kafka, topic));
  if (total === 0) return [];
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const records: RawRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          records.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? '',
            headers: decodeHeaders(message.headers),
          });
          if (records.length >= total) resolve();
        },
      });
    });
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`read ${records.length}/${total} records of ${topic}`)), 20_000))]);
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
}

export interface TopicRecord extends Omit<RawRecord, 'value'> {
  envelope: Envelope<PosTransaction>;
}

/** Everything on a POS topic right now, each record validated against the envelope schema. */
export async function readTopic(kafka: Kafka, topic: string): Promise<TopicRecord[]> {
  return (await readRecords(kafka, topic)).map(({ value, ...record }) => ({
    ...record,
    envelope: posTransactions.envelope.parse(JSON.parse(value)),
  }));
}
