import { PosTransactionV1, type PosTransaction } from '@tillstream/contracts';
import { journalEnds, journalEntry, recordTransactions, type JournalEntry, type Pool } from '@tillstream/db';
import { HEADER, readToEnd, topicOffsets, type Kafka, type LogRecord } from '@tillstream/kafka';
import type { Logger } from '@tillstream/observability';
import type { KnownIds } from './known-ids.ts';
import { bodyHashOf } from './validate.ts';

export interface CatchUpOptions {
  kafka: Kafka;
  pool: Pool;
  knownIds: KnownIds;
  /** The POS topic's full name (with the store's prefix). */
  topic: string;
  /** How far back a partition the journal has never recorded is read (the journal's retention). */
  retentionDays: number;
  logger: Logger;
  now?: () => Date;
  /** The consumer group names ingest's principal may use ("<prefix>ingest."). */
  groupPrefix?: string;
}

/**
 * The journal entry a POS record stands for, or undefined for a record ingest
 * could not have written (not JSON, no transaction in it). The body hash is
 * that of `JSON.stringify(data)`, the exact text capture hashed and produced.
 */
export function entryOfRecord(record: LogRecord, logger: Logger): JournalEntry | undefined {
  let data: unknown;
  try {
    data = (JSON.parse(record.value.toString('utf8')) as { data?: unknown }).data;
  } catch {
    logger.error({ partition: record.partition, offset: record.offset }, 'a POS record is not JSON; skipped by recovery');
    return undefined;
  }
  const parsed = PosTransactionV1.safeParse(data);
  // A record the broker holds was answered 2xx (or may have been): even one
  // today's schema would refuse must keep its receipt, so only the fields the
  // journal needs are required of it.
  const tx = parsed.success ? parsed.data : (data as PosTransaction | undefined);
  if (!tx || typeof tx.transactionId !== 'string' || typeof tx.terminalId !== 'string') {
    logger.error({ partition: record.partition, offset: record.offset }, 'a POS record holds no transaction; skipped by recovery');
    return undefined;
  }
  if (!parsed.success) logger.warn({ partition: record.partition, offset: record.offset }, 'a POS record no longer matches the schema; its receipt is recovered anyway');
  const receivedAt = new Date(record.headers[HEADER.receivedAt] ?? Number(record.timestamp));
  return journalEntry(tx, {
    bodyHash: bodyHashOf(JSON.stringify(data)),
    receivedAt: Number.isNaN(receivedAt.getTime()) ? new Date(Number(record.timestamp)) : receivedAt,
    partition: record.partition,
    offset: record.offset,
  });
}

/**
 * Makes the journal (and the idempotency filter) hold every receipt the
 * broker's log holds. Ingest answers 201 once the broker acknowledged and
 * writes the journal behind; a process killed in between leaves receipts
 * only in the log. So before a restarted ingest answers anything, it reads
 * the POS topic from the journal's highest recorded offset of each partition
 * to the end (or, for a partition the journal has nothing of, from the
 * retention's start) and records what it finds. The first copy of a
 * transactionId in the log is its receipt: entries are recorded in log order
 * and the journal keeps the first (ON CONFLICT DO NOTHING).
 */
export async function catchUpWithBroker(options: CatchUpOptions): Promise<{ read: number; recorded: number }> {
  const started = performance.now();
  const ends = await journalEnds(options.pool);
  const since = (options.now?.() ?? new Date()).getTime() - options.retentionDays * 86_400_000;
  const from = new Map<number, { offset: string } | { timestamp: number }>();
  for (const { partition } of await topicOffsets(options.kafka, options.topic)) {
    const end = ends.get(partition);
    from.set(partition, end === undefined ? { timestamp: since } : { offset: end });
  }
  let recorded = 0;
  const read = await readToEnd(options.kafka, options.topic, {
    from,
    ...(options.groupPrefix === undefined ? {} : { groupPrefix: options.groupPrefix }),
    onRecords: async (records) => {
      const entries = records.map((r) => entryOfRecord(r, options.logger)).filter((e): e is JournalEntry => e !== undefined);
      for (let i = 0; i < entries.length; i += 5000) await recordTransactions(options.pool, entries.slice(i, i + 5000));
      for (const e of entries) options.knownIds.add(e.transactionId);
      if (Math.floor((recorded + entries.length) / 50_000) > Math.floor(recorded / 50_000)) {
        options.logger.info({ recorded: recorded + entries.length }, "recovering receipts from the broker's log (a journal far behind: nothing is answered until done)");
      }
      recorded += entries.length;
    },
  });
  const took = Math.round(performance.now() - started);
  if (read > 0) options.logger.warn({ read, recorded, ms: took }, "recovered receipts from the broker's log that the journal lacked (ingest stopped before writing them)");
  else options.logger.info({ ms: took }, "journal is level with the broker's log");
  return { read, recorded };
}
