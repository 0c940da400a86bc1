import { randomUUID } from 'node:crypto';
import { posTransactions, type Envelope, type PosTransaction } from '@tillstream/contracts';
import { decodeHeaders, type Kafka } from '@tillstream/kafka';

export interface TopicRecord {
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  envelope: Envelope<PosTransaction>;
}

/**
 * Everything on a POS topic right now: reads each partition from 0 to its
 * high-water mark with a throwaway consumer group.
 */
export async function readTopic(kafka: Kafka, topic: string): Promise<TopicRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  if (total === 0) return [];
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const records: TopicRecord[] = [];
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
            headers: decodeHeaders(message.headers),
            envelope: posTransactions.envelope.parse(JSON.parse(message.value!.toString())),
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
