import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { hqTopics, salesAggregates, storeTopics, posTransactions, type SyncBatch, type SyncRecord } from '@tillstream/contracts';
import { createPool, issueStoreToken, issueUserToken, type Pool } from '@tillstream/db';
import { CLUSTER_PROFILES, deleteTopics, ensureTopics, topicRecordCount } from '@tillstream/kafka';
import { createRedis } from '@tillstream/queue';
import { freePort, startProcess, stopProcess } from '@tillstream/testing';
import { benchHqEnv, benchTls } from './tls.ts';
import { progress, table } from './harness.ts';
import { cpuMillis } from './processes.ts';
import { localKafka } from './kafka.ts';
import { TRENDS_UNPUBLISHED_SQL, benchLogger as logger, fillTopic, scratchDatabase, storedOffset } from './store-data.ts';

const TRANSACTIONS = Number(process.env.BENCH_TRANSACTIONS ?? 50_000);
/** The outage the backlog piled up over: a week of trading. */
const DAYS = Number(process.env.BENCH_DAYS ?? 7);
const BATCH_RECORDS = Number(process.env.SYNC_BATCH_RECORDS ?? 2000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Each service's log (warnings and errors), to read when a run fails. */
const logFile = (name: string) => ({ logFile: join(tmpdir(), `tillstream-bench-sync-${name}.log`) });

async function count(pool: Pool, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await pool.query<{ n: string }>(sql, params)).rows[0]!.n);
}

/** Polls `done` every 200 ms with a progress bar; resolves with the ms it took. */
async function until(label: string, total: number, done: () => Promise<number>, timeoutMs = 30 * 60_000): Promise<number> {
  const bar = progress(label, total);
  const started = performance.now();
  for (;;) {
    const n = await done();
    bar.tick(Math.min(n, total));
    if (n >= total) break;
    if (performance.now() - started > timeoutMs) throw new Error(`${label}: ${n} of ${total} after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
  bar.done();
  return performance.now() - started;
}

/**
 * Baseline: HQ's plain batch-apply rate. The same records, re-labelled as
 * another store's, POSTed to HQ's batch API one batch at a time (as the
 * store's uploader sends them) from bodies built in advance: HQ's own cost
 * per record, with no outbox reads, queue or backoff on the sending side.
 */
async function plainApplyRate(hqUrl: string, token: string, records: SyncRecord[], fetch: typeof globalThis.fetch): Promise<{ rate: number; batches: number }> {
  const batches: Array<{ batchId: string; body: string; records: number }> = [];
  for (let first = 0; first < records.length; first += BATCH_RECORDS) {
    const slice = records.slice(first, first + BATCH_RECORDS).map((r) => ({ ...r, data: { ...(r.data as object), storeId: 'S002' } }) as SyncRecord);
    const batch: SyncBatch = { batchId: `S002-${first + 1}-${first + slice.length}`, records: slice, backlog: { records: records.length - first, oldestAt: null } };
    batches.push({ batchId: batch.batchId, body: JSON.stringify(batch), records: slice.length });
  }
  const bar = progress('baseline: plain batch apply (records)', records.length);
  const started = performance.now();
  let sent = 0;
  for (const { batchId, body, records: n } of batches) {
    const res = await fetch(`${hqUrl}/v1/stores/S002/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': batchId },
      body,
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`baseline batch ${batchId}: HQ answered ${res.status} ${text}`);
    sent += n;
    bar.tick(sent);
  }
  bar.done();
  return { rate: records.length / ((performance.now() - started) / 1000), batches: batches.length };
}

/**
 * A store's backlog after days without HQ, drained: the POS topic holds
 * BENCH_TRANSACTIONS transactions over BENCH_DAYS days; trends derives their
 * aggregates and sync takes both into its outbox while HQ is away. Then HQ
 * starts, and the run times the store's upload until HQ has acknowledged
 * every record, and until HQ's chain views hold them.
 */
export async function syncBench(): Promise<string> {
  const storeCluster = localKafka('store');
  const hqCluster = localKafka('hq');
  const storeKafka = storeCluster.client('bench-sync');
  const hqKafka = hqCluster.client('bench-sync-hq');
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const queue = `bench-sync-${randomUUID().slice(0, 8)}`;
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
    const otherToken = await issueStoreToken(hqPool, 'S002');
    // Sync's status and HQ's /readyz want a viewer's token of each side.
    const storeViewer = { authorization: `Bearer ${await issueUserToken(storePool, { name: 'bench', role: 'store-viewer' })}` };
    const hqViewer = { authorization: `Bearer ${await issueUserToken(hqPool, { name: 'bench', role: 'hq-viewer' })}` };
    await fillTopic(storeKafka, prefix, TRANSACTIONS, DAYS);

    // HQ is away: nothing listens on its port yet.
    const hqPort = await freePort();
    // HQ over HTTPS with mutual TLS, as stores reach it.
    const hqUrl = `https://127.0.0.1:${hqPort}`;
    const s001 = await tls.storeClient('S001');
    const storeEnv = { STORE_ID: 'S001', STORE_TIME_ZONE: 'UTC', DATABASE_URL: store.url, TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' };
    children.push(await startProcess('services/trends/src/main.ts', { ...storeEnv, ...storeCluster.serviceEnv('trends'), PORT: '18082' }, 'http://127.0.0.1:18082/healthz', logFile('trends')));
    const sync = await startProcess(
      'services/sync/src/main.ts',
      // The store retries at most every second here; in production RETRY_MAX_MS is a minute, which bounds how long a returning HQ waits for the first upload.
      { ...storeEnv, ...storeCluster.serviceEnv('sync'), PORT: '18083', REDIS_URL, SYNC_QUEUE: queue, HQ_URL: hqUrl, HQ_TOKEN: storeToken, HQ_CLIENT_CERT_FILE: s001.certFile, HQ_CLIENT_KEY_FILE: s001.keyFile, HQ_CA_FILE: tls.caFile, SYNC_BATCH_RECORDS: String(BATCH_RECORDS), RETRY_BASE_MS: '200', RETRY_MAX_MS: '1000' },
      'http://127.0.0.1:18083/healthz',
      logFile('sync'),
    );
    children.push(sync);

    // The backlog: every transaction, and every aggregate trends published, in the sync outbox.
    await until('trends derives the aggregates (transactions)', TRANSACTIONS, async () => Number(await storedOffset(storePool, `${prefix}trends`)));
    await until('trends publishes them (windows left)', 1, async () =>
      (await count(storePool, TRENDS_UNPUBLISHED_SQL)) === 0 ? 1 : 0,
    );
    const aggregatesPublished = await topicRecordCount(storeKafka, `${prefix}${salesAggregates.name}`);
    await until('sync takes them into its outbox (records)', TRANSACTIONS + aggregatesPublished, async () =>
      Number((await storedOffset(storePool, `${prefix}sync.${posTransactions.name}`)) + (await storedOffset(storePool, `${prefix}sync.${salesAggregates.name}`))),
    );
    const outbox = await count(storePool, 'SELECT count(*) AS n FROM sync_outbox');
    const transactions = await count(storePool, "SELECT count(*) AS n FROM sync_outbox WHERE stream = 'transaction'");
    const windows = await count(storePool, "SELECT count(DISTINCT split_part(record_key, '#', 1)) AS n FROM sync_outbox WHERE stream = 'aggregate'");
    if (transactions !== TRANSACTIONS) throw new Error(`the outbox holds ${transactions} transactions, expected ${TRANSACTIONS}`);
    // What the store itself reports as not yet acknowledged by HQ.
    const backlog = async () => ((await (await fetch('http://127.0.0.1:18083/v1/sync/status', { headers: storeViewer })).json()) as { backlog: { records: number } }).backlog.records;

    // HQ returns.
    const hqEnv = benchHqEnv(tls, { kafkaEnv: hqCluster.serviceEnv('hq'), prefix, databaseUrl: hqDb.url, port: hqPort });
    const hqStarted = performance.now();
    const hq = await startProcess('services/hq/src/main.ts', hqEnv, `${hqUrl}/readyz`, { ...logFile('hq'), readyHeaders: hqViewer });
    children.push(hq);
    const hqReady = performance.now();
    const [syncCpu, hqCpu] = [await cpuMillis(sync.pid!), await cpuMillis(hq.pid!)];
    let firstAckMs = NaN;
    const ackMs = await until('HQ acknowledges the backlog (records)', outbox, async () => {
      const done = outbox - (await backlog());
      if (done > 0 && Number.isNaN(firstAckMs)) firstAckMs = performance.now() - hqReady;
      return done;
    });
    const syncCpuMs = (await cpuMillis(sync.pid!)) - syncCpu;
    const hqCpuMs = (await cpuMillis(hq.pid!)) - hqCpu;
    const viewsMs = await until('HQ views hold them (transactions + windows)', transactions + windows, async () =>
      count(hqPool, "SELECT (SELECT count(*) FROM hq_transactions WHERE store_id = 'S001') + (SELECT count(*) FROM hq_sales_aggregates WHERE store_id = 'S001') AS n"),
    );
    const batches = await count(storePool, 'SELECT count(*) AS n FROM sync_batches');

    // The baseline, on the same HQ process, once the drain is over.
    const records = (await storePool.query<{ stream: SyncRecord['stream']; record_key: string; data: never }>('SELECT stream, record_key, data FROM sync_outbox ORDER BY id')).rows.map(
      (r): SyncRecord => ({ stream: r.stream, key: r.record_key, data: r.data }),
    );
    const plain = await plainApplyRate(hqUrl, otherToken, records, tls.fetchAs(await tls.storeClient('S002')));

    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return [
      `Drain (target <= 60 s): ${TRANSACTIONS.toLocaleString('en')} transactions over ${DAYS} days (BENCH_TRANSACTIONS, BENCH_DAYS) and their ${(outbox - transactions).toLocaleString('en')} aggregates (${windows.toLocaleString('en')} windows), uploaded in batches of ${BATCH_RECORDS} (SYNC_BATCH_RECORDS):`,
      table([
        { run: 'HQ plain batch apply (baseline)', records: outbox, 'records/s': Math.round(plain.rate), seconds: (outbox / plain.rate).toFixed(1), note: `${plain.batches} prepared batches POSTed back to back, one at a time` },
        {
          run: 'store backlog drained to HQ (acknowledged)',
          records: outbox,
          'records/s': Math.round(outbox / (ackMs / 1000)),
          seconds: (ackMs / 1000).toFixed(1),
          note: `${batches} batches; from HQ ready (HQ started in ${s(hqReady - hqStarted)}), first ack after ${s(firstAckMs)}; CPU: sync ${Math.round((syncCpuMs * 1000) / outbox)} us/record, HQ ${Math.round((hqCpuMs * 1000) / outbox)} us/record`,
        },
        { run: '  and in HQ chain views', records: transactions + windows, 'records/s': Math.round((transactions + windows) / ((ackMs + viewsMs) / 1000)), seconds: ((ackMs + viewsMs) / 1000).toFixed(1), note: `every transaction once and every window at its last revision, ${s(viewsMs)} after the last ack` },
      ]),
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
