import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { topicOffsets } from './admin.ts';
import { decodeHeaders } from './headers.ts';

/** One record as it is in the log: bytes unchanged, headers as strings. */
export interface LogRecord {
  partition: number;
  offset: string;
  /** The broker's timestamp (ms since the epoch), as a decimal string. */
  timestamp: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface ReadToEndOptions {
  /**
   * Where to start in each partition: the offset, or a timestamp (ms) from
   * which the first record at or after it is read. A partition without an
   * entry is not read. Offsets below the log start begin at the log start.
   */
  from: Map<number, { offset: string } | { timestamp: number }>;
  /** Called with each fetched batch of one partition, in offset order; the read waits for it. */
  onRecords(records: LogRecord[]): Promise<void>;
  /** Gives up (rejects) after this long; default 120 s. */
  timeoutMs?: number;
  /** Starts the throwaway group's name: a principal may use only the groups its ACLs name (ingest's "<prefix>ingest."). */
  groupPrefix?: string;
}

/**
 * Reads a topic from given positions up to its end as of the call (the high
 * watermark of each partition then), for a process that must know what the
 * log holds before it does anything else (ingest's restart). A throwaway
 * consumer group that commits nothing, deleted afterwards. Returns how many
 * records it read. Partitions already at their end cost no consumer at all.
 */
export async function readToEnd(kafka: Kafka, topic: string, options: ReadToEndOptions): Promise<number> {
  const ends = new Map((await topicOffsets(kafka, topic)).map((p) => [p.partition, p]));
  const starts = new Map<number, bigint>();
  const byTime = [...options.from].filter((entry): entry is [number, { timestamp: number }] => 'timestamp' in entry[1]);
  const timed = new Map<number, string>();
  if (byTime.length > 0) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      // One timestamp per call: ask once per distinct timestamp.
      for (const timestamp of new Set(byTime.map(([, f]) => f.timestamp))) {
        for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, timestamp)) {
          if (byTime.some(([partition, f]) => partition === p.partition && f.timestamp === timestamp)) timed.set(p.partition, p.offset);
        }
      }
    } finally {
      await admin.disconnect();
    }
  }
  for (const [partition, from] of options.from) {
    const end = ends.get(partition);
    if (!end) continue;
    const wanted = 'offset' in from ? BigInt(from.offset) : BigInt(timed.get(partition) ?? end.high);
    // -1 from the timestamp look-up means "no record at or after it": nothing to read.
    const start = wanted < 0n ? BigInt(end.high) : wanted < BigInt(end.low) ? BigInt(end.low) : wanted;
    if (start < BigInt(end.high)) starts.set(partition, start);
  }
  if (starts.size === 0) return 0;

  const groupId = `${options.groupPrefix ?? ''}read-to-end-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10_000 });
  let read = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const remaining = new Set(starts.keys());
    let failed: ((err: unknown) => void) | undefined;
    const done = new Promise<void>((resolve, reject) => {
      failed = reject;
      void consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const partition = batch.partition;
            const start = starts.get(partition);
            const end = BigInt(ends.get(partition)?.high ?? '0');
            if (start === undefined || !remaining.has(partition)) return;
            const records: LogRecord[] = [];
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              // A fetch before the seek took effect starts elsewhere: only [start, end) counts.
              if (offset < start || offset >= end) continue;
              records.push({ partition, offset: m.offset, timestamp: m.timestamp, value: m.value ?? Buffer.alloc(0), headers: decodeHeaders(m.headers) });
            }
            if (records.length > 0) {
              await options.onRecords(records);
              read += records.length;
              starts.set(partition, BigInt(records[records.length - 1]!.offset) + 1n);
            }
            if (BigInt(batch.lastOffset()) + 1n >= end || starts.get(partition)! >= end) {
              remaining.delete(partition);
              if (remaining.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
    for (const [partition, start] of starts) consumer.seek({ topic, partition, offset: start.toString() });
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => failed?.(new Error(`read ${read} records of ${topic} but not to its end within ${timeoutMs} ms`)), timeoutMs);
    try {
      await done;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined) // an empty group expires by itself
      .finally(() => admin.disconnect());
  }
  return read;
}
