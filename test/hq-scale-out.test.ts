import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PosTransactionV1, buildManifest, type PosTransaction } from '@tillstream/contracts';
import { issueStoreToken } from '@tillstream/db';
import type { LocalKafkaCredentials } from '@tillstream/infra';
import {
  bearer,
  freePort,
  kafkaServiceEnv,
  killProcess,
  makeTransaction,
  seededRandom,
  startProcess,
  stopProcess,
  testDatabase,
  testHqTlsEnv,
  testKafka,
  testKafkaCluster,
  testStoreFetch,
  testTokens,
  waitFor,
  type TestDatabase,
} from '@tillstream/testing';

/**
 * HQ scaled out by role (issue 17 item 3), as real processes against one HQ
 * database and one HQ Kafka cluster: two API copies behind a round-robin
 * "load balancer" (each batch also sent to the other copy at once), two view
 * processes sharing the hq.* partitions (one of them killed and restarted
 * mid-upload: a rebalance), two reconcilers. Every store day ends complete,
 * nothing is doubled in the views, and no day was ever verified by both
 * reconcilers at once (hq_verifications: each verification's interval,
 * taken inside the manifest's row lock, never overlaps another of its day).
 */

/** The HQ Kafka cluster the test runs against: a private 3-broker cluster (testKafkaCluster). */
export interface HqKafkaUnderTest {
  brokers: string[];
  /** Its CA and SCRAM passwords. */
  credentials: LocalKafkaCredentials;
  /** Topic prefix under which hq.* topics exist (12 partitions each, 3 replicas). */
  prefix: string;
}

const DAY_MS = 86_400_000;
const STORES = ['S101', 'S102', 'S103', 'S104', 'S105', 'S106'];
const DAYS = [new Date(Date.now() - DAY_MS).toISOString().slice(0, 10), new Date().toISOString().slice(0, 10)];
const PER_TERMINAL_DAY = 60;
const BATCH = 40;

interface Record_ {
  stream: 'transaction' | 'aggregate';
  key: string;
  data: unknown;
}

function storeTraffic(storeId: string, seed: number): { txs: PosTransaction[]; records: Record_[] } {
  const random = seededRandom(seed);
  const txs: PosTransaction[] = [];
  const records: Record_[] = [];
  for (const day of DAYS) {
    const dayTxs: PosTransaction[] = [];
    for (const terminalId of ['T01', 'T02']) {
      for (let seq = 1; seq <= PER_TERMINAL_DAY; seq++) {
        const tx = PosTransactionV1.parse(
          makeTransaction([{ sku: 'A', unitPrice: 100 + Math.floor(random() * 900), quantity: 1 + Math.floor(random() * 3) }], {
            storeId,
            terminalId,
            sequenceNumber: seq,
            businessDay: day,
            occurredAt: new Date(Date.parse(`${day}T08:00:00Z`) + seq * 60_000).toISOString(),
          }),
        );
        dayTxs.push(tx);
      }
    }
    txs.push(...dayTxs);
    // The day's aggregate, restated after every 20 sales: the view must end on the last revision's figures.
    let net = 0;
    dayTxs.forEach((tx, i) => {
      records.push({ stream: 'transaction', key: tx.transactionId, data: tx });
      net += tx.totals.net;
      if ((i + 1) % 20 === 0) {
        const revision = (i + 1) / 20;
        records.push({
          stream: 'aggregate',
          key: 'day:category:Bakery',
          data: {
            storeId, granularity: 'day', windowStart: `${day}T00:00:00Z`, businessDay: day, dimension: 'category', member: 'Bakery', revision, updatedAt: new Date().toISOString(),
            figures: { units: i + 1, gross: net, discounts: 0, net, tax: 0, transactions: i + 1, items: i + 1, returns: 0, returnsUnits: 0, returnsAmount: 0 },
          },
        });
      }
    });
  }
  return { txs, records };
}

async function scaleOut(hqDb: TestDatabase, kafka: HqKafkaUnderTest): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'tillstream-hq-scale-out-'));
  const children: ChildProcess[] = [];
  onTestFinished(async () => {
    await Promise.all(children.map((c) => killProcess(c)));
  });
  const start = async (role: string, n: number) => {
    const port = await freePort();
    const env = {
      ...testHqTlsEnv(),
      ...kafkaServiceEnv('hq', { brokers: kafka.brokers, credentials: kafka.credentials }),
      HQ_TOPIC_PREFIX: kafka.prefix,
      DATABASE_URL: hqDb.urlFor('hq'),
      PORT: String(port),
      HQ_ROLES: role,
      LOG_LEVEL: 'warn',
      RECONCILE_INTERVAL_MS: '200',
      // Recent days re-verified over and over: the two reconcilers keep meeting on the same days.
      REVERIFY_AFTER_MS: '300',
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };
    const child = await startProcess('services/hq/src/main.ts', env, `https://127.0.0.1:${port}/healthz`, { logFile: join(logDir, `${role}-${n}.log`), timeoutMs: 180_000 });
    children.push(child);
    return { child, url: `https://127.0.0.1:${port}` };
  };
  const viewer = bearer((await testTokens(hqDb.pool, 'hq'))['hq-viewer']);
  const ready = (url: string) => waitFor(async () => (await fetch(`${url}/readyz`, { headers: viewer })).status === 200, { timeoutMs: 60_000, message: `${url} to be ready (logs: ${logDir})` });

  // One after the other: six tsx processes starting at once on a small machine take longer than one at a time.
  const api1 = await start('api', 1);
  const api2 = await start('api', 2);
  const views1 = await start('views', 1);
  const views2 = await start('views', 2);
  const rec1 = await start('reconciler', 1);
  const rec2 = await start('reconciler', 2);
  for (const p of [api1, api2, views1, views2, rec1, rec2]) await ready(p.url);
  // A views or reconciler process serves no store route: only the API role does.
  expect((await fetch(`${views1.url}/v1/stores/health`, { headers: viewer })).status).toBe(404);
  const apis = [api1.url, api2.url];

  const stores = await Promise.all(
    STORES.map(async (id, n) => ({ id, token: await issueStoreToken(hqDb.pool, id), fetch: await testStoreFetch(id), ...storeTraffic(id, 17 + n) })),
  );
  const post = (store: (typeof stores)[number], api: string, path: string, body: unknown, key?: string) =>
    store.fetch(`${api}/v1/stores/${store.id}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${store.token}`, ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
    });

  // Each store uploads its batches in order, as its sync does, round-robin over the API copies, each batch also
  // sent at once to the other copy (a retry after a lost answer). A copy answers 201 once, the other 200 or 409;
  // 409 and 503 are retried, as stores do.
  const statuses = new Map<number, number>();
  let sent = 0;
  const upload = async (store: (typeof stores)[number]) => {
    for (let from = 0, n = 0; from < store.records.length; from += BATCH, n++) {
      const batchId = `${store.id}-${from + 1}-${Math.min(store.records.length, from + BATCH)}`;
      const batch = { batchId, records: store.records.slice(from, from + BATCH), backlog: { records: store.records.length - from, oldestAt: null } };
      const answers = await Promise.all([0, 1].map(async (copy) => {
        const api = apis[(n + copy) % 2]!;
        let status = 0;
        await waitFor(
          async () => {
            status = (await post(store, api, 'batches', batch, batchId)).status;
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            return status === 200 || status === 201 || (status !== 409 && status !== 503 && (() => { throw new Error(`batch ${batchId}: ${status}`); })());
          },
          { timeoutMs: 60_000, intervalMs: 100, message: `batch ${batchId} to be taken` },
        );
        return status;
      }));
      expect(answers.filter((s) => s === 201), batchId).toHaveLength(1);
      sent++;
    }
  };
  const uploads = Promise.all(stores.map(upload));
  // Mid-upload, a view process dies without a goodbye and comes back: its partitions move to the other and back.
  await waitFor(() => sent >= 10, { timeoutMs: 60_000, message: 'the first batches' });
  await killProcess(views1.child);
  const views3 = await start('views', 3);
  await uploads;
  await ready(views3.url);

  for (const store of stores) {
    for (const day of DAYS) {
      const manifest = buildManifest(store.id, day, store.txs.filter((t) => t.businessDay === day));
      const res = await post(store, apis[DAYS.indexOf(day)]!, 'manifests', manifest);
      expect(res.status).toBe(202);
    }
  }

  // Every store day complete.
  const total = STORES.length * DAYS.length;
  await waitFor(
    async () => {
      const { rows } = await hqDb.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM hq_manifests WHERE status = 'complete'");
      return rows[0]!.n === total;
    },
    { timeoutMs: 120_000, message: `every store day to reconcile complete (logs: ${logDir})` },
  );
  const allComplete = (await hqDb.pool.query<{ at: Date }>('SELECT now() AS at')).rows[0]!.at;
  // Both reconcilers took work, and every day was verified several times over (re-verification of recent days).
  await waitFor(
    async () => {
      const { rows } = await hqDb.pool.query<{ verifiers: number; least: number; days: number }>(
        `SELECT count(DISTINCT verifier)::int AS verifiers, min(n)::int AS least, count(*)::int AS days
         FROM (SELECT store_id, business_day, verifier, count(*) OVER (PARTITION BY store_id, business_day) AS n FROM hq_verifications) v`,
      );
      return rows[0]!.verifiers === 2 && rows[0]!.least >= 3;
    },
    { timeoutMs: 60_000, message: 'both reconcilers to verify, every day at least 3 times' },
  );
  const { rows: overlaps } = await hqDb.pool.query(
    `SELECT a.store_id, a.business_day, a.verifier, b.verifier FROM hq_verifications a JOIN hq_verifications b
       ON a.store_id = b.store_id AND a.business_day = b.business_day AND a.verification_id < b.verification_id
      AND a.started_at < b.ended_at AND b.started_at < a.ended_at`,
  );
  expect(overlaps).toEqual([]);
  // Every day stays complete: each re-verification since found it complete (a day being re-verified reads 'pending' meanwhile).
  const { rows: since } = await hqDb.pool.query<{ status: string }>('SELECT DISTINCT status FROM hq_verifications WHERE started_at > $1', [allComplete]);
  expect(since).toEqual([{ status: 'complete' }]);
  const { rows: failing } = await hqDb.pool.query<{ status: string }>("SELECT DISTINCT status FROM hq_manifests WHERE status NOT IN ('complete', 'pending')");
  expect(failing).toEqual([]);

  // Nothing doubled: each transaction once with its own figures, each day's aggregate on its last revision.
  for (const store of stores) {
    for (const day of DAYS) {
      const dayTxs = store.txs.filter((t) => t.businessDay === day);
      const { rows } = await hqDb.pool.query<{ n: number; net: string }>('SELECT count(*)::int AS n, sum(net) AS net FROM hq_transactions WHERE store_id = $1 AND business_day = $2', [store.id, day]);
      expect(rows[0], `${store.id} ${day}`).toEqual({ n: dayTxs.length, net: String(dayTxs.reduce((s, t) => s + t.totals.net, 0)) });
      await waitFor(
        async () => {
          const { rows: agg } = await hqDb.pool.query<{ revision: number; net: string }>(
            "SELECT revision, net FROM hq_sales_aggregates WHERE store_id = $1 AND business_day = $2 AND granularity = 'day'",
            [store.id, day],
          );
          return agg.length === 1 && agg[0]!.revision === dayTxs.length / 20 && Number(agg[0]!.net) === dayTxs.reduce((s, t) => s + t.totals.net, 0);
        },
        { timeoutMs: 30_000, message: `${store.id} ${day}'s aggregate on its last revision` },
      );
    }
  }
  const { rows: batches } = await hqDb.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM hq_batches');
  expect(batches[0]!.n).toBe(sent);
  const { rows: claims } = await hqDb.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM hq_batch_claims');
  expect(claims[0]!.n).toBe(0);

  for (const c of children) await stopProcess(c);
}

describe('HQ scaled out by role', () => {
  it('two API copies, two view processes (one killed and replaced mid-upload), two reconcilers: every store day complete, nothing doubled, no day verified twice at once', async () => {
    const hqDb = await testDatabase({ target: 'hq' });
    // HQ's production shape: three brokers, RF 3, min.insync.replicas 2, 12 partitions per hq.* topic. Ports 21430-21435 are this suite's.
    const cluster = await testKafkaCluster({ brokers: 3, portBase: 21_430 });
    // The cluster and its data are deleted as a whole: no per-topic cleanup against a cluster already stopped.
    const { prefix } = await testKafka({ brokers: cluster.brokers, cluster: 'hq', credentials: cluster.credentials, placement: cluster.placement, cleanup: () => undefined });
    await scaleOut(hqDb, { brokers: cluster.brokers, credentials: cluster.credentials, prefix });
  }, 600_000);
});
