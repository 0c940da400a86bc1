import { randomUUID } from 'node:crypto';
import { parseEnv, postgresServerEnv } from '@tillstream/config';
import { PosTransactionV1, posTransactions } from '@tillstream/contracts';
import { databaseUrl, dropDatabase, ensureDatabase, migrate, type Pool } from '@tillstream/db';
import { TypedProducer, type Kafka } from '@tillstream/kafka';
import { createLogger } from '@tillstream/observability';
import { makeTransaction, type LineSpec } from '@tillstream/testing';
import { progress } from './harness.ts';

/** What the consumer benchmarks share: a store's traffic in its POS topic, and scratch databases. */

export const SERVER = parseEnv(postgresServerEnv, process.env).POSTGRES_URL;
export const LINES_PER_TX = 3;
export const benchLogger = createLogger({ name: 'bench', level: 'warn' });

/** A store's basket: three lines over 500 SKUs, one in five weighed. */
export function basket(i: number): LineSpec[] {
  return Array.from({ length: LINES_PER_TX }, (_, l) =>
    (i + l) % 5 === 0
      ? { sku: `W-${(i * 7 + l) % 50}`, quantity: ((i % 997) + 1) / 1000, unitOfMeasure: 'KG' as const, unitPrice: 1299 }
      : { sku: `SKU-${(i * 31 + l * 17) % 500}`, quantity: 1 + (i % 3), unitPrice: 199 },
  );
}

/** A fresh, migrated database on the local server; `drop` removes it. */
export async function scratchDatabase(tag: string, target: 'store' | 'hq' = 'store'): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bench_${tag}_${randomUUID().slice(0, 8)}`;
  await ensureDatabase(SERVER, name);
  const url = databaseUrl(SERVER, name);
  await migrate({ databaseUrl: url, target, logger: benchLogger });
  return { url, drop: () => dropDatabase(SERVER, name) };
}

/** The next offset a consumer group stored in PostgreSQL with its effects (0 before its first batch). */
export async function storedOffset(pool: Pool, group: string): Promise<bigint> {
  const { rows } = await pool.query<{ next_offset: string }>('SELECT coalesce(sum(next_offset), 0) AS next_offset FROM consumer_offsets WHERE group_id = $1', [group]);
  return BigInt(rows[0]?.next_offset ?? '0');
}

/**
 * Fills the POS topic with `transactions` transactions (store S001, terminal
 * T01, consecutive sequence numbers) spread evenly over the last `days`
 * days, as ingest would have written them.
 */
export async function fillTopic(kafka: Kafka, prefix: string, transactions: number, days: number): Promise<number> {
  // As ingest: its source, and the schema's output (defaults spelled out) as the data, so consumers read what they read in a store.
  const producer = new TypedProducer({ kafka, logger: benchLogger, source: 'ingest', topicPrefix: prefix });
  await producer.connect();
  const bar = progress('filling pos.transactions', transactions);
  const from = Date.now() - days * 86_400_000;
  const step = (days * 86_400_000) / transactions;
  for (let sent = 0; sent < transactions; ) {
    const slice = Array.from({ length: Math.min(500, transactions - sent) }, (_, k) => PosTransactionV1.parse(makeTransaction(basket(sent + k), { occurredAt: new Date(from + (sent + k) * step).toISOString() })));
    await producer.send(posTransactions, slice.map((tx) => ({ storeId: 'S001', data: tx, dataJson: JSON.stringify(tx) })), { dataValidated: true });
    sent += slice.length;
    bar.tick(sent);
  }
  bar.done();
  await producer.disconnect();
  return transactions;
}

/**
 * Whether a store's trends service has derived events committed and not yet published: its listed
 * slots (a slot is unlisted once all its windows reached the broker) and its event outbox. Cheap on
 * purpose, as benches poll it: counting the waiting windows instead took a
 * core of the 2-core machine for as long as a million lines' windows were being published.
 */
export const TRENDS_UNPUBLISHED_SQL = `SELECT (SELECT count(*) FROM sales_aggregate_changes WHERE changes > published_changes) + (SELECT count(*) FROM event_outbox) AS n`;

