import { randomUUID } from 'node:crypto';
import { posTransactions, type TopicSpec } from '@tillstream/contracts';
import { CLUSTER_PROFILES, TypedProducer, deleteTopics, ensureTopics } from '@tillstream/kafka';
import { createLogger } from '@tillstream/observability';
import { makeTransaction } from '@tillstream/testing';
import { percentile, progress, table } from './harness.ts';
import { withListenerPair, type BenchKafka } from './kafka.ts';

/**
 * What `flush.messages=1` on pos.transactions costs: the same records
 * produced (acks=all, idempotent) to the topic as configured, to the same
 * topic with Kafka's default partition count and index size, and to one that
 * leaves flushing to the OS (Kafka's default, the baseline); one record per
 * request (the worst case) and in group-commit batches. Each on two brokers
 * of the bench's own, PLAINTEXT and SASL_SSL (SCRAM-SHA-512, ACLs), so what
 * security costs on the produce path is measured beside it.
 */
export async function durability(options: { records: number }): Promise<string> {
  return withListenerPair(async (pair) => {
    const rows: Array<Record<string, string | number>> = [];
    for (const target of pair) rows.push(...(await durabilityOn(target, options.records)));
    return table(rows);
  });
}

async function durabilityOn(target: BenchKafka, records: number): Promise<Array<Record<string, string | number>>> {
  const logger = createLogger({ name: 'bench', level: 'warn' });
  const kafka = target.client('bench-durability');
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const fsync: TopicSpec = posTransactions as unknown as TopicSpec;
  const pageCache: TopicSpec = { ...fsync, name: 'pos.transactions.pagecache.v1', config: { 'min.insync.replicas': '1' } };
  // What fsync costs with Kafka's defaults otherwise: 3 partitions, 10 MB indexes.
  const naive: TopicSpec = { ...fsync, name: 'pos.transactions.naive.v1', partitions: 3, config: { 'flush.messages': '1' } };
  const variants = [['page cache, 1 partition (baseline)', pageCache], ['flush.messages=1, 3 partitions, 10 MB index', naive], ['flush.messages=1, 1 partition, 256 KB index (chosen)', fsync]] as const;
  await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka, logger, prefix, specs: variants.map(([, v]) => v), deadLetter: false });
  const producer = new TypedProducer({ kafka, logger, source: 'bench', topicPrefix: prefix });
  await producer.connect();
  const txs = Array.from({ length: records }, (_, i) =>
    makeTransaction([{ sku: `SKU-${i % 500}`, quantity: 1 + (i % 3), unitPrice: 199 }, { sku: 'BAG', unitPrice: 10 }], { terminalId: `T${i % 8}` }),
  );
  const rows: Array<Record<string, string | number>> = [];
  try {
    for (const batchSize of [1, 15, 100]) {
      for (const [label, spec] of variants) {
        const bar = progress(`${target.listener}, ${label}, batch ${batchSize}`, txs.length);
        const latencies: number[] = [];
        const started = performance.now();
        for (let i = 0; i < txs.length; i += batchSize) {
          const slice = txs.slice(i, i + batchSize).map((data) => ({ storeId: 'S001', data: data }));
          const t0 = performance.now();
          await producer.send(spec, slice, { dataValidated: true });
          latencies.push(performance.now() - t0);
          bar.tick(Math.min(i + batchSize, txs.length));
        }
        bar.done();
        const seconds = (performance.now() - started) / 1000;
        rows.push({
          listener: target.listener,
          topic: label,
          'records/request': batchSize,
          'records/s': Math.round(txs.length / seconds),
          'p50 ms': percentile(latencies, 50),
          'p99 ms': percentile(latencies, 99),
        });
      }
    }
  } finally {
    await producer.disconnect();
    await deleteTopics(kafka, variants.map(([, v]) => `${prefix}${v.name}`));
  }
  return rows;
}
