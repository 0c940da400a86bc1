import { describe, expect, it, onTestFinished } from 'vitest';
import { hqTopics, storeTopics, topicName, type PosTransactionInput } from '@tillstream/contracts';
import { issueStoreToken } from '@tillstream/db';
import { hqEnv, startHq } from '@tillstream/hq';
import { syncEnv, startSync } from '@tillstream/sync';
import { testTrends, type TestTrends } from '@tillstream/trends/testing';
import {
  bearer,
  kafkaServiceEnv,
  seededRandom,
  storeTraffic,
  syncRedisUrl,
  testDatabase,
  testHqTlsEnv,
  testKafka,
  testKafkaCluster,
  testLogger,
  testStoreClientEnv,
  testTlsEnv,
  testTokens,
  waitFor,
} from '@tillstream/testing';

/**
 * HQ on a replicated cluster (issue 17 item 2): three stores upload to HQ,
 * whose cluster is three brokers (RF 3, min.insync.replicas 2, 12
 * partitions per hq.* topic); one broker is killed with SIGKILL mid-stream
 * and restarted. Nothing HQ acknowledged is lost or counted twice in its
 * views, and the stores' uploads carry on by themselves.
 *
 * Ports 21410-21415 are this suite's own (a controller and three brokers).
 * Deadlines are long: four JVMs start on a machine the other suites share.
 */

const DAYS = ['2026-11-18', '2026-11-19'];
const STORES = ['S001', 'S002', 'S003'];
const PER_STORE = 240;

/** A store's traffic over two business days on two terminals, each numbering its own sequence; retried copies stay copies. */
function tradingDays(storeId: string, count: number, seed: number): PosTransactionInput[] {
  const stamped = new Map<string, PosTransactionInput>();
  const sequence = new Map<string, number>();
  return storeTraffic(count, seededRandom(seed)).map((tx, i) => {
    const seen = stamped.get(tx.transactionId);
    if (seen) return seen;
    const terminalId = i % 2 === 0 ? 'T01' : 'T02';
    const seq = (sequence.get(terminalId) ?? 0) + 1;
    sequence.set(terminalId, seq);
    const day = DAYS[Math.min(DAYS.length - 1, Math.floor((i * DAYS.length) / count))]!;
    const occurredAt = new Date(Date.parse(`${day}T09:00:00Z`) + i * 20_000).toISOString();
    const restamped = { ...tx, storeId, terminalId, sequenceNumber: seq, businessDay: day, occurredAt };
    stamped.set(tx.transactionId, restamped);
    return restamped;
  });
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

describe('HQ on a three-broker cluster', () => {
  it('loses and doubles nothing acknowledged when a broker is killed mid-stream and restarted, and the stores carry on by themselves', async () => {
    const cluster = await testKafkaCluster({ brokers: 3, portBase: 21_410 });
    expect(cluster.placement).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 2, minPartitions: 12 });
    // The cluster and its data are deleted as a whole: no per-topic cleanup against a cluster already stopped.
    const hqKafka = await testKafka({ brokers: cluster.brokers, cluster: 'hq', credentials: cluster.credentials, placement: cluster.placement, cleanup: () => undefined });
    const metadata = await (async () => {
      const admin = cluster.kafka.admin();
      await admin.connect();
      try {
        return await admin.fetchTopicMetadata({ topics: hqTopics.map((t) => topicName(hqKafka.prefix, t)) });
      } finally {
        await admin.disconnect();
      }
    })();
    for (const t of metadata.topics) {
      expect(t.partitions.length, t.name).toBeGreaterThanOrEqual(12);
      expect(t.partitions.every((p) => p.replicas.length === 3)).toBe(true);
    }

    const hqDb = await testDatabase({ target: 'hq' });
    const logger = testLogger('hq');
    const hq = await startHq(
      hqEnv.parse({
        ...testHqTlsEnv(),
        ...kafkaServiceEnv('hq', { brokers: cluster.brokers, credentials: cluster.credentials }),
        HQ_TOPIC_PREFIX: hqKafka.prefix,
        DATABASE_URL: hqDb.urlFor('hq'),
        PORT: '0',
        RECONCILE_INTERVAL_MS: '300',
      }),
      { logger },
    );
    onTestFinished(() => hq.stop());
    const hqViewer = { headers: bearer((await testTokens(hqDb.pool, 'hq'))['hq-viewer']) };
    // Sized like the deadlines below (four JVMs starting on a shared 2-core machine: once over 60 s in the full suite);
    // a timeout says what /readyz last reported.
    await waitFor(
      async () => {
        const res = await fetch(`${hq.url}/readyz`, hqViewer);
        if (res.status === 200) return true;
        throw new Error(`/readyz ${res.status}: ${(await res.text()).slice(0, 1000)}`);
      },
      { timeoutMs: 120_000, message: 'HQ to be ready' },
    );

    const stores: Array<{ id: string; trends: TestTrends; sync: Awaited<ReturnType<typeof startSync>>; traffic: PosTransactionInput[] }> = [];
    for (const [n, id] of STORES.entries()) {
      const token = await issueStoreToken(hqDb.pool, id);
      const db = await testDatabase({ target: 'store' });
      const kafka = await testKafka({ specs: storeTopics });
      const trends = await testTrends({ STORE_ID: id, STORE_TIME_ZONE: 'UTC' }, { db, kafka });
      const sync = await startSync(
        syncEnv.parse({
          ...testTlsEnv(),
          ...(await testStoreClientEnv(id)),
          STORE_ID: id,
          TOPIC_PREFIX: kafka.prefix,
          ...kafkaServiceEnv('sync'),
          DATABASE_URL: db.urlFor('sync'),
          REDIS_URL: syncRedisUrl(),
          PORT: '0',
          HQ_URL: hq.url,
          HQ_TOKEN: token,
          SYNC_BATCH_RECORDS: '20',
          // Windows and levels coalesce for 300 ms (not the default 5 minutes) and batches are cut at once, so HQ's views fill within the test.
          SYNC_COALESCE_MS: '300',
          SYNC_BATCH_MAX_DELAY_MS: '0',
          SWEEP_INTERVAL_MS: '200',
          MANIFEST_INTERVAL_MS: '500',
          HEARTBEAT_INTERVAL_MS: '500',
          RETRY_BASE_MS: '200',
          RETRY_MAX_MS: '2000',
          HQ_TIMEOUT_MS: '10000',
        }),
        { logger: testLogger(`sync-${id}`) },
      );
      onTestFinished(() => sync.stop());
      stores.push({ id, trends, sync, traffic: tradingDays(id, PER_STORE, 11 + n) });
    }

    const held = async () => Number((await hqDb.pool.query<{ n: string }>('SELECT count(*) AS n FROM hq_transactions')).rows[0]!.n);
    const half = (s: (typeof stores)[number]) => Math.floor(s.traffic.length / 2);

    // The first half of every store's day goes up; once HQ has booked some of it, a broker dies mid-stream.
    for (const s of stores) await s.trends.publish(s.traffic.slice(0, half(s)));
    await waitFor(async () => (await held()) > 0, { timeoutMs: 120_000, message: 'HQ to book the first uploads' });
    await cluster.kill(2);
    const atKill = await held();

    // The rest is sold and uploaded while the broker is down: two in-sync replicas of three still take HQ's writes.
    for (const s of stores) await s.trends.publish(s.traffic.slice(half(s)));
    await waitFor(async () => (await held()) > atKill, { timeoutMs: 180_000, message: 'HQ to keep booking uploads with one broker down' });

    await cluster.restart(2);

    // Every store day reconciles complete: HQ booked each acknowledged transaction, with no intervention at the stores.
    await waitFor(
      async () => {
        const { days } = await json<{ days: Array<{ status: string }> }>(fetch(`${hq.url}/v1/reconciliation`, hqViewer));
        return days.length === STORES.length * DAYS.length && days.every((d) => d.status === 'complete');
      },
      { timeoutMs: 300_000, message: 'every store day to reconcile complete' },
    );

    const hqSales = async () =>
      (await json<{ sales: Array<{ storeId: string; businessDay: string; net: number; tax: number; transactions: number }> }>(fetch(`${hq.url}/v1/sales/stores`, hqViewer))).sales;
    for (const s of stores) {
      // HQ's view of each store day equals the store's own day aggregate exactly: nothing lost, nothing counted twice.
      const { rows } = await s.trends.db.pool.query<{ business_day: string; net: string; tax: string; transactions: number }>(
        `SELECT to_char(window_start, 'YYYY-MM-DD') AS business_day, net, tax, transactions FROM sales_aggregates
         WHERE granularity = 'day' AND dimension = 'store' ORDER BY window_start`,
      );
      expect(rows.length).toBe(DAYS.length);
      const expected = JSON.stringify(rows.map((r) => [r.business_day, Number(r.net), Number(r.tax), r.transactions]));
      const actual = async () => JSON.stringify((await hqSales()).filter((x) => x.storeId === s.id).map((x) => [x.businessDay, x.net, x.tax, x.transactions]));
      await waitFor(async () => (await actual()) === expected, { timeoutMs: 60_000, message: `HQ's sales view of ${s.id} to equal the store's days` });
      // Each transaction of the store's journal once at HQ.
      const ids = new Set(s.traffic.map((t) => t.transactionId));
      const { rows: count } = await hqDb.pool.query<{ n: string; distinct: string }>(
        'SELECT count(*) AS n, count(DISTINCT transaction_id) AS distinct FROM hq_transactions WHERE store_id = $1',
        [s.id],
      );
      expect([Number(count[0]!.n), Number(count[0]!.distinct)]).toEqual([ids.size, ids.size]);
      // The store's uploads drained by themselves: nothing left to send.
      const storeViewer = { headers: bearer((await testTokens(s.trends.db.pool, 'store'))['store-viewer']) };
      await waitFor(async () => (await json<{ backlog: { records: number } }>(fetch(`${s.sync.url}/v1/sync/status`, storeViewer))).backlog.records === 0, {
        timeoutMs: 60_000,
        message: `${s.id}'s upload backlog to drain`,
      });
    }
  }, 1_200_000);
});
