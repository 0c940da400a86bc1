import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { storeTopics, type PosTransactionInput } from '@tillstream/contracts';
import { issueStoreToken } from '@tillstream/db';
import { hqEnv, startHq } from '@tillstream/hq';
import { ensureRedisUser, redisUserUrl } from '@tillstream/infra';
import { TypedProducer } from '@tillstream/kafka';
import { syncEnv, startSync } from '@tillstream/sync';
import { bearer, freePort, httpProxy, kafkaServiceEnv, killProcess, publishAcknowledged, seededRandom, startProcess, stopProcess, storeTraffic, testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testStoreClientEnv, testTlsEnv, testTokens, waitFor } from '@tillstream/testing';

/**
 * Issue 13 item 8, "Redis down is not the store offline". What went wrong:
 * the sweeper ran its chores one after another and the first enqueue
 * (BullMQ addBulk on a connection with an offline queue) waited for ever
 * while Redis was away, so heartbeats, manifests, replays and catalog pulls
 * stopped with it, HQ marked the store offline, and stop() (SIGTERM) hung
 * on the round that never ended. This test runs a Redis server of its own,
 * stops it while the store sells, and asserts what HQ and the store see.
 */

const STORE = 'S001';

/**
 * A redis-server of this test's own on its own port, without persistence (a
 * restart loses every job), set up as a deployment's: sync connects as its
 * ACL user with a password (re-created at each start, as ACLs are not persisted either).
 */
async function ownRedis(port: number): Promise<{ url: string; start(): Promise<void>; stop(): Promise<void> }> {
  let child: ChildProcess | undefined;
  const admin = `redis://127.0.0.1:${port}`;
  const user = { user: 'tillstream_sync', password: randomBytes(24).toString('hex') };
  const redis = {
    url: redisUserUrl(admin, user.user, user.password),
    async start() {
      const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
      child = started;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        started.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('Ready to accept connections')) resolve();
        });
        started.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
      });
      started.stdout.resume();
      await ensureRedisUser({ adminUrl: admin, ...user });
    },
    async stop() {
      if (child) await stopProcess(child);
      child = undefined;
    },
  };
  await redis.start();
  onTestFinished(() => redis.stop());
  return redis;
}

/** `count` transactions of one business day on one terminal, numbered from `firstSeq`. */
function day(businessDay: string, count: number, firstSeq: number, seed: number): PosTransactionInput[] {
  const seen = new Set<string>();
  return storeTraffic(count * 2, seededRandom(seed))
    .filter((tx) => !seen.has(tx.transactionId) && seen.add(tx.transactionId))
    .slice(0, count)
    .map((tx, i) => ({
      ...tx,
      storeId: STORE,
      terminalId: 'T01',
      sequenceNumber: firstSeq + i,
      businessDay,
      occurredAt: new Date(Date.parse(`${businessDay}T09:00:00Z`) + i * 20_000).toISOString(),
    }));
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

describe('sync with Redis away', () => {
  it('Redis stopped while the store sells: HQ keeps hearing heartbeats, manifests and replay polls, the catalog still arrives, status answers; uploads resume when Redis returns; stop() and SIGTERM complete during an outage', async () => {
    const redis = await ownRedis(await freePort());
    const hqDb = await testDatabase({ target: 'hq' });
    const hqPrefix = (await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS })).prefix;
    const hq = await startHq(
      hqEnv.parse({ ...testHqTlsEnv(), ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: hqPrefix, DATABASE_URL: hqDb.urlFor('hq'), PORT: '0', RECONCILE_INTERVAL_MS: '300' }),
      { logger: testLogger('hq') },
    );
    onTestFinished(() => hq.stop());
    const hqTokens = await testTokens(hqDb.pool, 'hq');
    const hqViewer = bearer(hqTokens['hq-viewer']);
    await waitFor(async () => (await fetch(`${hq.url}/readyz`, { headers: hqViewer })).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
    // Counts what HQ took, by what it was asked for (heartbeat, manifests, ...), whichever store path.
    const proxy = await httpProxy({ target: () => hq.url, label: (req) => `${req.method} ${(req.url ?? '').split('?')[0]!.replace(/^\/v1\/stores\/[^/]+/, '')}` });

    const db = await testDatabase({ target: 'store' });
    const kafka = await testKafka({ specs: storeTopics });
    const producer = new TypedProducer({ kafka: kafka.kafka, logger: kafka.logger, source: 'test', topicPrefix: kafka.prefix });
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const publish = (txs: PosTransactionInput[]) => publishAcknowledged(producer, db.pool, txs);
    const storeViewer = bearer((await testTokens(db.pool, 'store'))['store-viewer']);

    const vars = {
      ...testTlsEnv(),
      ...(await testStoreClientEnv(STORE)),
      STORE_ID: STORE,
      TOPIC_PREFIX: kafka.prefix,
      ...kafkaServiceEnv('sync'),
      DATABASE_URL: db.urlFor('sync'),
      REDIS_URL: redis.url,
      PORT: '0',
      HQ_URL: proxy.url,
      HQ_TOKEN: await issueStoreToken(hqDb.pool, STORE),
      SYNC_BATCH_RECORDS: '50',
      SWEEP_INTERVAL_MS: '200',
      SYNC_COALESCE_MS: '300',
      SYNC_BATCH_MAX_DELAY_MS: '0',
      MANIFEST_INTERVAL_MS: '300',
      HEARTBEAT_INTERVAL_MS: '300',
      CATALOG_INTERVAL_MS: '300',
      RETRY_BASE_MS: '200',
      RETRY_MAX_MS: '1000',
      HQ_TIMEOUT_MS: '5000',
      SYNC_CHORE_DEADLINE_MS: '2000',
      SYNC_STOP_DEADLINE_MS: '2000',
    };
    const sync = await startSync(syncEnv.parse(vars), { logger: testLogger('sync') });
    let stopped = false;
    onTestFinished(async () => {
      if (!stopped) await sync.stop();
    });

    const held = async () => Number((await hqDb.pool.query<{ n: string }>('SELECT count(*) AS n FROM hq_transactions WHERE store_id = $1', [STORE])).rows[0]!.n);
    const reconciled = async (days: string[]) => {
      const rows = (await json<{ days: Array<{ storeId: string; businessDay: string; status: string }> }>(fetch(`${hq.url}/v1/reconciliation`, { headers: hqViewer }))).days;
      return days.every((d) => rows.some((r) => r.storeId === STORE && r.businessDay === d && r.status === 'complete'));
    };
    type Status = { backlog: { records: number }; queue: Record<string, number> | null };
    const status = () => json<Status>(fetch(`${sync.url}/v1/sync/status`, { headers: storeViewer }));

    // Redis up: the first day reaches HQ and reconciles complete.
    const first = day('2026-11-20', 120, 1, 11);
    await publish(first);
    await waitFor(async () => (await held()) === first.length, { timeoutMs: 30_000, message: 'the first day at HQ' });
    await waitFor(() => reconciled(['2026-11-20']), { timeoutMs: 30_000, message: 'the first day complete' });

    // Redis goes away (every job with it: no persistence). The store keeps selling and HQ publishes a catalog.
    await redis.stop();
    const before = (what: string) => proxy.answered(what);
    const at = { heartbeat: before('POST /heartbeat'), manifests: before('POST /manifests'), replays: before('GET /replay-requests'), catalog: before('GET /catalog') };
    const second = day('2026-11-21', 120, 1, 12);
    await publish(second);
    const published = await json<{ version: number }>(
      fetch(`${hq.url}/v1/catalog`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(hqTokens['hq-admin']) },
        body: JSON.stringify({ items: [{ sku: 'SKU-1', description: 'Sourdough', category: 'BREAD', unitPrice: 450, reorderPoint: 12, reorderQuantity: 24, maximum: 60 }] }),
      }),
    );

    // While Redis is away: HQ hears the store (heartbeats, manifests, replay polls), the catalog is applied
    // and acknowledged, and the status page answers with the queue unknown and the new day waiting.
    await waitFor(() => proxy.answered('POST /heartbeat') >= at.heartbeat + 3, { timeoutMs: 30_000, message: 'three heartbeats at HQ while Redis is away' });
    await waitFor(() => proxy.answered('POST /manifests') >= at.manifests + 1, { timeoutMs: 30_000, message: 'a manifest at HQ while Redis is away' });
    await waitFor(() => proxy.answered('GET /replay-requests') >= at.replays + 1, { timeoutMs: 30_000, message: 'a replay poll at HQ while Redis is away' });
    await waitFor(async () => (await db.pool.query('SELECT 1 FROM store_catalog_versions WHERE version = $1 AND acked_at IS NOT NULL', [published.version])).rowCount === 1, {
      timeoutMs: 30_000,
      message: 'the catalog applied and acknowledged while Redis is away',
    });
    const away = await waitFor(async () => {
      const s = await status();
      return s.backlog.records === second.length ? s : undefined;
    }, { timeoutMs: 30_000, message: 'the second day in the backlog' });
    expect(away.queue).toBeNull();
    const { stores } = await json<{ stores: Array<{ storeId: string; status: string }> }>(fetch(`${hq.url}/v1/stores/health`, { headers: hqViewer }));
    expect(stores.find((s) => s.storeId === STORE)?.status).toBe('online');
    expect(await held()).toBe(first.length); // uploads wait for Redis (nothing enqueued without it)

    // Redis returns, empty: the sweeper re-enqueues from PostgreSQL and every record reaches HQ.
    await redis.start();
    await waitFor(async () => (await held()) === first.length + second.length, { timeoutMs: 60_000, message: 'the second day at HQ after Redis returned' });
    await waitFor(() => reconciled(['2026-11-20', '2026-11-21']), { timeoutMs: 30_000, message: 'both days complete' });
    await waitFor(async () => (await status()).queue !== null, { message: 'the status page to see the queue again' });

    // Redis away again with an enqueue pending: stop() (what SIGTERM calls) completes anyway.
    await redis.stop();
    const third = day('2026-11-22', 10, 1, 13);
    await publish(third);
    await waitFor(async () => (await status()).backlog.records === third.length, { timeoutMs: 30_000, message: 'the third day in the backlog' });
    stopped = true;
    await sync.stop();
    expect(await fetch(`${sync.url}/v1/sync/status`, { headers: storeViewer }).then(() => 'answered', () => 'closed')).toBe('closed');

    // The same as a process started while Redis is away: SIGTERM ends it by itself with status 0 (a hang would end in stopProcess's SIGKILL).
    const port = await freePort();
    const logFile = join(mkdtempSync(join(tmpdir(), 'tillstream-sync-sigterm-')), 'sync.log');
    const child = await startProcess('services/sync/src/main.ts', { ...vars, PORT: String(port), LOG_LEVEL: 'warn' }, `https://127.0.0.1:${port}/healthz`, { logFile });
    onTestFinished(() => killProcess(child));
    await waitFor(async () => (await json<Status>(fetch(`https://127.0.0.1:${port}/v1/sync/status`, { headers: storeViewer }))).backlog.records === third.length, { message: 'the process to see the backlog' });
    await stopProcess(child);
    expect({ code: child.exitCode, signal: child.signalCode }, readFileSync(logFile, 'utf8')).toEqual({ code: 0, signal: null });
  }, 180_000);
});
