import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hqTopics, posTransactions, storeTopics, topicName } from '@tillstream/contracts';
import { createPool, issueStoreToken, issueUserToken, type Pool } from '@tillstream/db';
import { infraConfigFromEnv } from '@tillstream/infra';
import { CLUSTER_PROFILES, TypedProducer, deleteTopics, ensureTopics, topicRecordCount } from '@tillstream/kafka';
import { createRedis } from '@tillstream/queue';
import { makeTransaction, startProcess, stopProcess, type LineSpec } from '@tillstream/testing';
import { benchHqEnv, benchTls } from './tls.ts';
import { progress, table } from './harness.ts';
import { localKafka } from './kafka.ts';
import { benchLogger as logger, scratchDatabase, storedOffset, TRENDS_UNPUBLISHED_SQL } from './store-data.ts';

/**
 * HQ's storage per store-day (docs/hq-storage.md): one store-day of the
 * issue's shape — BENCH_TRANSACTIONS (3,000) transactions of 3 lines over
 * BENCH_SKUS (2,000) SKUs, 6 terminals, 14 trading hours — played through a
 * real store (trends, inventory, sync) into a real HQ, and then what HQ's
 * database holds for it, table by table (rows, and bytes by
 * pg_total_relation_size over every partition, as loaded and after VACUUM
 * FULL), and what HQ's topics hold (records, and bytes of their log
 * segments on the broker's disk). The day is written to the store's POS
 * topic directly, not through ingest, so there is no ingest journal and no
 * day manifest: hq_manifests shows 0 rows (one row, about 1 KiB, per
 * store-day in production).
 */
const TRANSACTIONS = Number(process.env.BENCH_TRANSACTIONS ?? 3000);
const SKUS = Number(process.env.BENCH_SKUS ?? 2000);
const TERMINALS = 6;
const HOURS = 14;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Ports of this bench's services (the hqstorage range, see RULES of the parallel work; override with BENCH_PORT_BASE). */
const PORT = Number(process.env.BENCH_PORT_BASE ?? 21610);

const HQ_TABLES = [
  'hq_transactions',
  'hq_sales_aggregates',
  'hq_inventory_levels',
  'hq_inventory_alerts',
  'hq_batches',
  'hq_manifests',
  'hq_replay_requests',
  'hq_store_health',
  'consumer_offsets',
] as const;

/** Three lines over SKUS SKUs, spread so the day sells nearly every one. */
function basket(i: number): LineSpec[] {
  return Array.from({ length: 3 }, (_, l) => {
    const n = (i * 3 + l) * 7919;
    return { sku: `SKU-${String(n % SKUS).padStart(5, '0')}`, category: `C${n % 40}`, quantity: 1 + (i % 2), unitPrice: 199 + (n % 900) };
  });
}

async function count(pool: Pool, sql: string): Promise<number> {
  return Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
}

async function until(label: string, total: number, done: () => Promise<number>, timeoutMs = 20 * 60_000): Promise<void> {
  const bar = progress(label, total);
  const started = performance.now();
  for (;;) {
    const n = await done();
    bar.tick(Math.min(n, total));
    if (n >= total) break;
    if (performance.now() - started > timeoutMs) throw new Error(`${label}: ${n} of ${total} after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
  bar.done();
}

/** Rows and bytes of each table (a partitioned one: the sum over its partitions, indexes and TOAST included). */
async function tableSizes(pool: Pool): Promise<Map<string, { rows: number; bytes: number }>> {
  const sizes = new Map<string, { rows: number; bytes: number }>();
  for (const t of HQ_TABLES) {
    const { rows } = await pool.query<{ rows: string; bytes: string }>(
      // pg_partition_tree lists a partitioned table's partitions, and nothing for a plain table.
      `SELECT (SELECT count(*) FROM ${t}) AS rows,
         CASE WHEN (SELECT relkind FROM pg_class WHERE oid = $1::regclass) = 'p'
           THEN (SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree($1::regclass))
           ELSE pg_total_relation_size($1::regclass) END AS bytes`,
      [t],
    );
    sizes.set(t, { rows: Number(rows[0]!.rows), bytes: Number(rows[0]!.bytes) });
  }
  return sizes;
}

/** Bytes of a topic's log segments (*.log) on the broker's disk, over its partitions: what it holds, without preallocated indexes. */
async function topicBytes(dataDir: string, topic: string): Promise<number> {
  let bytes = 0;
  for (const dir of (await readdir(dataDir)).filter((d) => d.startsWith(`${topic}-`) && /^\d+$/.test(d.slice(topic.length + 1)))) {
    for (const file of (await readdir(join(dataDir, dir))).filter((f) => f.endsWith('.log'))) bytes += (await stat(join(dataDir, dir, file))).size;
  }
  return bytes;
}

export async function hqStorageBench(): Promise<string> {
  const storeCluster = localKafka('store');
  const hqCluster = localKafka('hq');
  const storeKafka = storeCluster.client('bench-hq-storage');
  const hqKafka = hqCluster.client('bench-hq-storage-hq');
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const queue = `bench-hq-storage-${randomUUID().slice(0, 8)}`;
  await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka: storeKafka, logger, prefix, specs: storeTopics });
  await storeCluster.grant('store', prefix);
  await ensureTopics({ placement: CLUSTER_PROFILES['single-broker'], kafka: hqKafka, logger, prefix, specs: hqTopics });
  await hqCluster.grant('hq', prefix);
  const store = await scratchDatabase('store');
  const hqDb = await scratchDatabase('hq', 'hq');
  const storePool = createPool({ connectionString: store.url, logger, applicationName: 'bench', max: 1 });
  const hqPool = createPool({ connectionString: hqDb.url, logger, applicationName: 'bench', max: 1 });
  const children: Array<Awaited<ReturnType<typeof startProcess>>> = [];
  const tls = await benchTls();
  try {
    const storeToken = await issueStoreToken(hqPool, 'S001');
    const hqViewer = { authorization: `Bearer ${await issueUserToken(hqPool, { name: 'bench', role: 'hq-viewer' })}` };
    const storeViewer = { authorization: `Bearer ${await issueUserToken(storePool, { name: 'bench', role: 'store-viewer' })}` };
    // Stocked SKUs (a store's catalog): the day's sales draw them down, a few to their reorder point.
    await storePool.query(
      `INSERT INTO inventory_items (sku, description, category, on_hand, reorder_point)
       SELECT 'SKU-' || lpad(n::text, 5, '0'), 'Item ' || n, 'C' || (n % 40), 40, 5 FROM generate_series(0, $1 - 1) AS n`,
      [SKUS],
    );

    // Yesterday's trading day, 08:00-22:00 UTC, six terminals.
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const open = Date.parse(`${day}T08:00:00Z`);
    const producer = new TypedProducer({ kafka: storeKafka, logger, source: 'bench', topicPrefix: prefix });
    await producer.connect();
    const bar = progress('filling pos.transactions (one store-day)', TRANSACTIONS);
    for (let sent = 0; sent < TRANSACTIONS; ) {
      const slice = Array.from({ length: Math.min(500, TRANSACTIONS - sent) }, (_, k) => {
        const i = sent + k;
        return makeTransaction(basket(i), {
          terminalId: `T0${(i % TERMINALS) + 1}`,
          sequenceNumber: Math.floor(i / TERMINALS) + 1,
          businessDay: day,
          occurredAt: new Date(open + Math.floor((i * HOURS * 3600_000) / TRANSACTIONS)).toISOString(),
        });
      });
      await producer.send(posTransactions, slice.map((tx) => ({ storeId: 'S001', data: tx as never, dataJson: JSON.stringify(tx) })), { dataValidated: true });
      sent += slice.length;
      bar.tick(sent);
    }
    bar.done();
    await producer.disconnect();

    const hqUrl = `https://127.0.0.1:${PORT + 3}`;
    const s001 = await tls.storeClient('S001');
    const storeEnv = { STORE_ID: 'S001', STORE_TIME_ZONE: 'UTC', DATABASE_URL: store.url, TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' };
    children.push(await startProcess('services/trends/src/main.ts', { ...storeEnv, ...storeCluster.serviceEnv('trends'), PORT: String(PORT) }, `http://127.0.0.1:${PORT}/healthz`));
    children.push(await startProcess('services/inventory/src/main.ts', { ...storeEnv, ...storeCluster.serviceEnv('inventory'), PORT: String(PORT + 1) }, `http://127.0.0.1:${PORT + 1}/healthz`));
    children.push(
      await startProcess(
        'services/hq/src/main.ts',
        benchHqEnv(tls, { kafkaEnv: hqCluster.serviceEnv('hq'), prefix, databaseUrl: hqDb.url, port: PORT + 3 }),
        `${hqUrl}/readyz`,
        { readyHeaders: hqViewer },
      ),
    );
    children.push(
      await startProcess(
        'services/sync/src/main.ts',
        {
          ...storeEnv,
          ...storeCluster.serviceEnv('sync'),
          PORT: String(PORT + 2),
          REDIS_URL,
          SYNC_QUEUE: queue,
          HQ_URL: hqUrl,
          HQ_TOKEN: storeToken,
          HQ_CLIENT_CERT_FILE: s001.certFile,
          HQ_CLIENT_KEY_FILE: s001.keyFile,
          HQ_CA_FILE: tls.caFile,
          MANIFEST_INTERVAL_MS: '2000',
        },
        `http://127.0.0.1:${PORT + 2}/healthz`,
      ),
    );

    await until('trends and inventory book the day (transactions)', 2 * TRANSACTIONS, async () =>
      Number((await storedOffset(storePool, `${prefix}trends`)) + (await storedOffset(storePool, `${prefix}inventory`))),
    );
    await until('trends publishes every window', 1, async () => ((await count(storePool, TRENDS_UNPUBLISHED_SQL)) === 0 ? 1 : 0));
    const windows = await count(storePool, 'SELECT count(*) AS n FROM sales_aggregates');
    const skus = await count(storePool, 'SELECT count(*) AS n FROM inventory_items');
    await until('HQ views hold the day (transactions + windows + SKU levels)', TRANSACTIONS + windows + skus, async () =>
      count(hqPool, 'SELECT (SELECT count(*) FROM hq_transactions) + (SELECT count(*) FROM hq_sales_aggregates) + (SELECT count(*) FROM hq_inventory_levels) AS n'),
    );
    const backlog = async () => ((await (await fetch(`http://127.0.0.1:${PORT + 2}/v1/sync/status`, { headers: storeViewer })).json()) as { backlog: { records: number } }).backlog.records;
    await until('the store has nothing left to upload', 1, async () => ((await backlog()) === 0 ? 1 : 0));
    const uploaded = await count(hqPool, 'SELECT coalesce(sum(records), 0) AS n FROM hq_batches');
    for (const child of children.splice(0).reverse()) await stopProcess(child);

    const loaded = await tableSizes(hqPool);
    await hqPool.query(`VACUUM (FULL, ANALYZE) ${HQ_TABLES.join(', ')}`);
    const packed = await tableSizes(hqPool);
    const byGranularity = (await hqPool.query<{ granularity: string; n: string }>('SELECT granularity, count(*) AS n FROM hq_sales_aggregates GROUP BY 1 ORDER BY 1')).rows
      .map((r) => `${r.granularity} ${Number(r.n).toLocaleString('en')}`)
      .join(', ');

    const dataDir = join(infraConfigFromEnv(process.env, logger).stateDir, 'kafka-hq', 'data');
    const topics = [];
    for (const spec of hqTopics) {
      const name = topicName(prefix, spec);
      topics.push({ topic: spec.name, records: await topicRecordCount(hqKafka, name), bytes: await topicBytes(dataDir, name).catch(() => NaN) });
    }

    const kb = (n: number) => (Number.isNaN(n) ? 'n/a' : `${(n / 1024).toFixed(0)} KiB`);
    const per = (bytes: number, rows: number) => (rows > 0 ? `${Math.round(bytes / rows)}` : '-');
    const total = (m: Map<string, { bytes: number }>) => [...m.values()].reduce((s, v) => s + v.bytes, 0);
    return [
      `One store-day: ${TRANSACTIONS.toLocaleString('en')} transactions x 3 lines over ${SKUS.toLocaleString('en')} SKUs (BENCH_TRANSACTIONS, BENCH_SKUS), ${TERMINALS} terminals, ${HOURS} h;`,
      `${uploaded.toLocaleString('en')} records uploaded to HQ; ${windows.toLocaleString('en')} sales windows at the store (HQ holds ${byGranularity}).`,
      'HQ PostgreSQL (bytes: pg_total_relation_size, every partition, indexes and TOAST; "packed" after VACUUM FULL):',
      table(
        HQ_TABLES.map((t) => ({
          table: t,
          rows: loaded.get(t)!.rows,
          'as loaded': kb(loaded.get(t)!.bytes),
          packed: kb(packed.get(t)!.bytes),
          'B/row packed': per(packed.get(t)!.bytes, packed.get(t)!.rows),
        })),
      ),
      `total: ${kb(total(loaded))} as loaded, ${kb(total(packed))} packed (empty tables count their 8-16 KiB of pages).`,
      "HQ Kafka (records: offsets; bytes: the topic's *.log segments on the HQ broker's disk, before any compaction):",
      table(topics.map((t) => ({ topic: t.topic, records: t.records, bytes: kb(t.bytes), 'B/record': per(t.bytes, t.records) }))),
    ].join('\n');
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    await storePool.end();
    await hqPool.end();
    await tls.close();
    await store.drop();
    await hqDb.drop();
    await deleteTopics(storeKafka, storeTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
    await deleteTopics(hqKafka, hqTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
    const redis = createRedis(REDIS_URL, 'command', { lazyConnect: true });
    const keys = await redis.keys(`bull:${queue}:*`).catch(() => [] as string[]);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}
