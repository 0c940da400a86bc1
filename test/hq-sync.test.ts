import { describe, expect, it, onTestFinished } from 'vitest';
import { hqTransactions, storeTopics, topicName, type PosTransactionInput } from '@tillstream/contracts';
import { issueStoreToken } from '@tillstream/db';
import { topicRecordCount } from '@tillstream/kafka';
import { hqEnv, startHq, type HqService } from '@tillstream/hq';
import { createRedis } from '@tillstream/queue';
import { syncEnv, startSync } from '@tillstream/sync';
import { testTrends, type TestTrends } from '@tillstream/trends/testing';
import { bearer, httpProxy, kafkaServiceEnv, makeTransaction, seededRandom, storeTraffic, syncRedisUrl, testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testStoreClientEnv, testStoreFetch, testTlsEnv, testTokens, waitFor, type TestDatabase } from '@tillstream/testing';

/**
 * Store -> HQ reconciliation across two stores, on the real brokers,
 * PostgreSQL and Redis: HQ away while the stores sell, then answering 503
 * and 429 for a while, Redis wiped mid-drain, and a range HQ loses later
 * repaired by an automatic replay.
 */

const DAYS = ['2026-11-18', '2026-11-19', '2026-11-20'];

/** A store's traffic over three business days on two terminals, each terminal numbering its own sequence. */
function tradingDays(storeId: string, count: number, seed: number): PosTransactionInput[] {
  const stamped = new Map<string, PosTransactionInput>();
  const sequence = new Map<string, number>();
  return storeTraffic(count, seededRandom(seed)).map((tx, i) => {
    const seen = stamped.get(tx.transactionId);
    if (seen) return seen; // a retried copy stays a copy
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

async function startTestHq(db: TestDatabase, prefix: string, overrides: Record<string, string> = {}): Promise<HqService> {
  const hq = await startHq(
    hqEnv.parse({ ...testHqTlsEnv(), ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: prefix, DATABASE_URL: db.urlFor('hq'), PORT: '0', RECONCILE_INTERVAL_MS: '300', ...overrides }),
    { logger: testLogger('hq') },
  );
  onTestFinished(() => hq.stop());
  await waitFor(async () => (await fetch(`${hq.url}/readyz`, { headers: await hqViewer(db) })).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
  return hq;
}

/** An HQ viewer's and a store viewer's Authorization header (see testTokens). */
const hqViewer = async (db: TestDatabase) => bearer((await testTokens(db.pool, 'hq'))['hq-viewer']);
const storeViewer = async (db: TestDatabase) => bearer((await testTokens(db.pool, 'store'))['store-viewer']);

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

describe('store -> HQ sync', () => {
  it('HQ away, then 503/429, then Redis wiped mid-drain: HQ ends with every store day exactly, reconciled complete; a catalog is applied by both; a lost range is replayed', async () => {
    const hqDb = await testDatabase({ target: 'hq' });
    // HQ creates its topics itself, under this test's prefix on HQ's broker (deleted on cleanup).
    const hqPrefix = (await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS })).prefix;
    let hq: HqService | undefined;
    const proxy = await httpProxy({ target: () => hq?.url, mode: 'down' });
    const redisDb = 7; // this test's own Redis database: FLUSHDB here is the FLUSHALL of a dedicated Redis
    const redisUrl = `${syncRedisUrl().replace(/\/\d*$/, '')}/${redisDb}`;

    const stores: Array<{ id: string; trends: TestTrends; sync: Awaited<ReturnType<typeof startSync>>; traffic: PosTransactionInput[] }> = [];
    for (const [n, id] of ['S001', 'S002'].entries()) {
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
          REDIS_URL: redisUrl,
          PORT: '0',
          HQ_URL: proxy.url,
          HQ_TOKEN: token,
          SYNC_BATCH_RECORDS: '100',
          SWEEP_INTERVAL_MS: '200',
          SYNC_COALESCE_MS: '300',
          SYNC_BATCH_MAX_DELAY_MS: '0',
          MANIFEST_INTERVAL_MS: '500',
          HEARTBEAT_INTERVAL_MS: '500',
          CATALOG_INTERVAL_MS: '500',
          RETRY_BASE_MS: '200',
          RETRY_MAX_MS: '2000',
          HQ_TIMEOUT_MS: '5000',
        }),
        { logger: testLogger(`sync-${id}`) },
      );
      onTestFinished(() => sync.stop());
      stores.push({ id, trends, sync, traffic: tradingDays(id, 400, 7 + n) });
    }

    // HQ is away for the whole trading period: the stores keep selling and their backlogs grow.
    for (const s of stores) await s.trends.publish(s.traffic);
    for (const s of stores) await s.trends.caughtUp(90_000);
    for (const s of stores) {
      await waitFor(async () => (await json<{ backlog: { records: number } }>(fetch(`${s.sync.url}/v1/sync/status`, { headers: await storeViewer(s.trends.db) }))).backlog.records >= 300, { timeoutMs: 60_000, message: `${s.id} backlog` });
      const status = await json<{ hq: { reachable: boolean }; lastSuccessAt: string | null }>(fetch(`${s.sync.url}/v1/sync/status`, { headers: await storeViewer(s.trends.db) }));
      expect(status.hq.reachable).toBe(false);
      expect(status.lastSuccessAt).toBeNull();
    }

    // HQ comes back overloaded: 503, then 429, each with Retry-After: 1. The stores back off instead of hammering it.
    hq = await startTestHq(hqDb, hqPrefix);
    // (How often they retry is the HQ client's unit test, against a clock; here: they keep coming back, and lose nothing.)
    for (const mode of [503, 429] as const) {
      proxy.mode = mode;
      await waitFor(() => (proxy.seen.get(mode) ?? 0) >= 4, { timeoutMs: 90_000, message: `the stores to retry through ${mode}s` });
    }

    proxy.mode = 'pass';
    // Redis loses every job in the middle of the drain: the sweepers re-enqueue what HQ has not acknowledged.
    await waitFor(async () => (await hqDb.pool.query('SELECT 1 FROM hq_batches LIMIT 1')).rowCount === 1, { timeoutMs: 60_000, message: 'the first batch at HQ' });
    // As the administrator: the stores' ACL user may not FLUSHDB.
    const redis = createRedis(`${testEnv.REDIS_URL.replace(/\/\d*$/, '')}/${redisDb}`, 'command');
    await redis.flushdb();
    redis.disconnect();

    const complete = async () => {
      const { days } = await json<{ days: Array<{ storeId: string; businessDay: string; status: string }> }>(fetch(`${hq!.url}/v1/reconciliation`, { headers: await hqViewer(hqDb) }));
      return days.length === stores.length * DAYS.length && days.every((d) => d.status === 'complete') ? days : undefined;
    };
    await waitFor(complete, { timeoutMs: 120_000, message: 'every store day to reconcile complete' });

    // HQ's chain view of each store day equals the store's own day aggregate exactly.
    // (HQ's aggregate view is its own consumer: it may trail the transaction view the reconciler waits for.)
    const hqSales = async () =>
      (await json<{ sales: Array<{ storeId: string; businessDay: string; net: number; tax: number; transactions: number }> }>(fetch(`${hq!.url}/v1/sales/stores`, { headers: await hqViewer(hqDb) }))).sales;
    for (const s of stores) {
      const { rows } = await s.trends.db.pool.query<{ business_day: string; net: string; tax: string; transactions: number }>(
        `SELECT to_char(window_start, 'YYYY-MM-DD') AS business_day, net, tax, transactions FROM sales_aggregates
         WHERE granularity = 'day' AND dimension = 'store' ORDER BY window_start`,
      );
      expect(rows.length).toBe(DAYS.length);
      const expected = JSON.stringify(rows.map((r) => [r.business_day, Number(r.net), Number(r.tax), r.transactions]));
      const actual = async () => JSON.stringify((await hqSales()).filter((x) => x.storeId === s.id).map((x) => [x.businessDay, x.net, x.tax, x.transactions]));
      await waitFor(async () => (await actual()) === expected, { timeoutMs: 90_000, message: `HQ's sales view of ${s.id} to equal the store's days` });
      expect(await actual()).toBe(expected);
      // Every transaction of the journal once, retried copies included only once.
      const ids = new Set(s.traffic.map((t) => t.transactionId));
      const { rows: held } = await hqDb.pool.query<{ n: string }>('SELECT count(*) AS n FROM hq_transactions WHERE store_id = $1', [s.id]);
      expect(Number(held[0]!.n)).toBe(ids.size);
      // The store keeps what HQ's views read (uploads after it leave out the other windows; services/sync/src/coalesce.test.ts).
      await waitFor(async () => (await s.trends.db.pool.query("SELECT 1 FROM sync_hq_reads WHERE granularities = '{day}'")).rowCount === 1, { timeoutMs: 60_000, message: `${s.id} to keep what HQ reads` });
    }

    // HQ publishes a catalog: each store's sync stores it atomically and acknowledges it (inventory then applies it to its items).
    const admin = (await testTokens(hqDb.pool, 'hq'))['hq-admin'];
    const publish = (body: unknown, token = admin) =>
      fetch(`${hq!.url}/v1/catalog`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const item = { sku: 'SKU-1', description: 'Sourdough', category: 'BREAD', unitPrice: 450, reorderPoint: 12, reorderQuantity: 24, maximum: 60 };
    expect((await publish({ items: [item] }, 'not-the-admin-token')).status).toBe(401);
    expect((await publish({ items: [item, item] })).status).toBe(422); // a SKU twice: well-formed, but breaks a rule
    const published = await json<{ version: number }>(publish({ items: [item, { ...item, sku: 'SKU-2', description: 'Rye', reorderPoint: null }] }));
    for (const s of stores) {
      await waitFor(async () => (await s.trends.db.pool.query('SELECT 1 FROM store_catalog_versions WHERE version = $1 AND acked_at IS NOT NULL', [published.version])).rowCount === 1, {
        timeoutMs: 60_000,
        message: `${s.id} to apply and acknowledge the catalog`,
      });
      const { rows } = await s.trends.db.pool.query<{ sku: string; unit_price: string; reorder_point: string | null }>('SELECT sku, unit_price, reorder_point FROM store_catalog ORDER BY sku');
      expect(rows).toEqual([
        { sku: 'SKU-1', unit_price: '450', reorder_point: '12.000' },
        { sku: 'SKU-2', unit_price: '450', reorder_point: null },
      ]);
      // The items' reorder settings reach the stock ledger through the inventory service (services/inventory/src/catalog.test.ts).
    }
    const { stores: health } = await json<{ stores: Array<{ storeId: string; catalogVersion: number | null; status: string }> }>(fetch(`${hq.url}/v1/stores/health`, { headers: await hqViewer(hqDb) }));
    expect(health.map((h) => [h.storeId, h.status, h.catalogVersion])).toEqual(stores.map((s) => [s.id, 'online', published.version]));

    // HQ loses a range (a restore from an older backup). Re-verification finds the gap, asks, the store replays it.
    const { rows: seqs } = await hqDb.pool.query<{ low: string }>(
      "SELECT min(sequence_number) AS low FROM hq_transactions WHERE store_id = 'S002' AND business_day = $1 AND terminal_id = 'T01'",
      [DAYS[1]],
    );
    const range = [Number(seqs[0]!.low) + 3, Number(seqs[0]!.low) + 12];
    const lost = await hqDb.pool.query(
      "DELETE FROM hq_transactions WHERE store_id = 'S002' AND business_day = $1 AND terminal_id = 'T01' AND sequence_number BETWEEN $2 AND $3",
      [DAYS[1], ...range],
    );
    expect(lost.rowCount).toBeGreaterThan(0);
    await hq.stop();
    // The test's days are fixed dates, older than RECONCILE_RECENT_DAYS as time goes on: the slow sweep runs as fast as the recent one.
    hq = await startTestHq(hqDb, hqPrefix, { REVERIFY_AFTER_MS: '500', REVERIFY_OLD_AFTER_MS: '500' });
    await waitFor(async () => (await hqDb.pool.query("SELECT 1 FROM hq_replay_requests WHERE store_id = 'S002'")).rowCount! > 0, { timeoutMs: 60_000, message: 'a replay request' });
    await waitFor(
      async () =>
        (await hqDb.pool.query("SELECT 1 FROM hq_transactions WHERE store_id = 'S002' AND business_day = $1 AND terminal_id = 'T01' AND sequence_number BETWEEN $2 AND $3", [DAYS[1], ...range]))
          .rowCount === lost.rowCount,
      { timeoutMs: 90_000, message: 'the replayed range at HQ' },
    );
    await waitFor(complete, { timeoutMs: 90_000, message: 'the repaired day to reconcile complete' });
  }, 420_000);

  it('applies a batch once, however often and however concurrently it is sent, and a store writes only its own data', async () => {
    const hqDb = await testDatabase({ target: 'hq' });
    const hqKafka = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
    const hq = await startTestHq(hqDb, hqKafka.prefix);
    const tokens = { S001: await issueStoreToken(hqDb.pool, 'S001'), S002: await issueStoreToken(hqDb.pool, 'S002') };
    // S001's client certificate on every request: what follows is about what its token and batches may do.
    const asS001 = await testStoreFetch('S001');
    const post = (store: string, token: string, body: unknown, key = (body as { batchId: string }).batchId) =>
      asS001(`${hq.url}/v1/stores/${store}/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
        body: JSON.stringify(body),
      });
    const tx = makeTransaction([{ sku: 'A' }], { storeId: 'S001' });
    const batch = { batchId: 'S001-1-1', records: [{ stream: 'transaction', key: tx.transactionId, data: tx }], backlog: { records: 0, oldestAt: null } };

    const statuses = await Promise.all(Array.from({ length: 8 }, () => post('S001', tokens.S001, batch).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => [200, 201, 409].includes(s))).toBe(true);
    const again = await post('S001', tokens.S001, batch);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await json<{ records: number }>(again)).toMatchObject({ batchId: 'S001-1-1', records: 1 });

    const other = makeTransaction([{ sku: 'B' }], { storeId: 'S001' });
    const reused = await post('S001', tokens.S001, { ...batch, records: [{ stream: 'transaction', key: other.transactionId, data: other }] });
    expect(reused.status).toBe(422);
    expect(await json<{ code: string }>(reused)).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

    // S001's credentials cannot write S002's data, under S002's path or inside its own batch.
    const asOther = await post('S002', tokens.S001, { ...batch, batchId: 'S002-1-1' });
    expect(asOther.status).toBe(403);
    const foreign = makeTransaction([{ sku: 'C' }], { storeId: 'S002' });
    const smuggled = await post('S001', tokens.S001, { ...batch, batchId: 'S001-2-2', records: [{ stream: 'transaction', key: foreign.transactionId, data: foreign }] });
    expect(smuggled.status).toBe(403);
    expect((await post('S001', 'tt_not-a-token', batch)).status).toBe(401);
    expect((await post('S001', tokens.S001, batch, 'S001-9-9')).status).toBe(422);

    // Machine-made ids are long digit runs: "S001-13001-15000" reads as 0011300115000 and the demo's
    // alert "BK-SANDWICH:23:1795408619272" ends in epoch milliseconds, both Luhn-valid. HQ takes them;
    // a card number in a transaction (what a terminal typed) is refused as ingest refuses it.
    const third = makeTransaction([{ sku: 'D' }], { storeId: 'S001' });
    const alert = { alertId: 'BK-SANDWICH:23:1795408619272', storeId: 'S001', sku: 'BK-SANDWICH', type: 'LOW_STOCK', state: 'LOW', previousState: 'OK', onHand: 2, reorderPoint: 3, reorderQuantity: 10, at: new Date().toISOString() };
    const lucky = await post('S001', tokens.S001, {
      ...batch,
      batchId: 'S001-13001-15000',
      records: [
        { stream: 'transaction', key: third.transactionId, data: third },
        { stream: 'alert', key: alert.alertId, data: alert },
      ],
    });
    expect(lucky.status).toBe(201);
    const card = makeTransaction([{ sku: 'E' }], { storeId: 'S001' });
    const withCard = await post('S001', tokens.S001, { ...batch, batchId: 'S001-15001-15001', records: [{ stream: 'transaction', key: card.transactionId, data: { ...card, operatorId: '4111111111111111' } }] });
    expect(withCard.status).toBe(422);
    expect(await json<{ code: string; errors: Array<{ pointer: string }> }>(withCard)).toMatchObject({ code: 'CARD_NUMBER_DETECTED', errors: [{ pointer: '/records/0/data/operatorId' }] });

    // Applied once: HQ's topic holds each accepted transaction once (HQ answered 201 only once the broker had it),
    // so once the view booked those two, nothing else can arrive: each transaction once, nothing of S002.
    expect(await topicRecordCount(hqKafka.kafka, topicName(hqKafka.prefix, hqTransactions))).toBe(2);
    await waitFor(async () => (await hqDb.pool.query('SELECT 1 FROM hq_transactions')).rowCount === 2, { message: 'the view to book the batches' });
    const { rows } = await hqDb.pool.query<{ store_id: string; transaction_id: string }>('SELECT store_id, transaction_id FROM hq_transactions ORDER BY occurred_at');
    expect(rows).toEqual([tx, third].map((t) => ({ store_id: 'S001', transaction_id: t.transactionId })));
  }, 60_000);

  it('refuses a card number in every stream of a batch, and in the path, query or headers of any HQ route, never echoing it', async () => {
    const hqDb = await testDatabase({ target: 'hq' });
    const hq = await startTestHq(hqDb, (await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS })).prefix);
    const token = await issueStoreToken(hqDb.pool, 'S001');
    // As S001's sync uploads: its client certificate (mutual TLS) and its token.
    const asS001 = await testStoreFetch('S001');
    const post = (body: { batchId: string }, headers: Record<string, string> = {}) =>
      asS001(`${hq.url}/v1/stores/S001/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': body.batchId, ...headers },
        body: JSON.stringify(body),
      });
    const now = new Date().toISOString();
    const aggregate = (member: string) => ({
      storeId: 'S001', granularity: 'day', windowStart: '2026-11-29T00:00:00+01:00', businessDay: '2026-11-29', dimension: 'category', member, revision: 1, updatedAt: now,
      figures: { units: 1, gross: 100, discounts: 0, net: 100, tax: 0, transactions: 1, items: 1, returns: 0, returnsUnits: 0, returnsAmount: 0 },
    });
    const quarantined = (reason: string) => ({
      entryId: '17', storeId: 'S001', source: 'dead-letter', service: 'inventory', topic: 'tillstream.pos.transactions.v1', partition: 0, offset: '1795408619272', outboxId: null,
      code: 'VALIDATION_FAILED', message: 'bad record', transactionId: null, businessDay: '2026-11-29', quarantinedAt: now, status: 'discarded', resolution: { actor: 'manager', at: now, reason }, revision: 2,
    });
    const batch = (batchId: string, records: unknown[]) => ({ batchId, records, backlog: { records: 0, oldestAt: null } });
    const refused = async (res: Response, pointer: string) => {
      expect(res.status).toBe(422);
      const text = await res.text();
      expect(text).not.toMatch(/4111|5555|3782/);
      expect(JSON.parse(text)).toMatchObject({ code: 'CARD_NUMBER_DETECTED', errors: [{ pointer }] });
    };

    // The same records without the number are taken: what is refused is the number.
    expect((await post(batch('S001-1-2', [{ stream: 'aggregate', key: 'day:category:Bakery', data: aggregate('Bakery') }, { stream: 'quarantine', key: '17#2', data: quarantined('test sale') }]))).status).toBe(201);
    await refused(await post(batch('S001-3-3', [{ stream: 'aggregate', key: 'day:category:x', data: aggregate('paid 5555\u00a05555\u00a05555\u00a04444') }])), '/records/0/data/member');
    await refused(await post(batch('S001-4-4', [{ stream: 'quarantine', key: '17#3', data: quarantined('card was \uff14\uff11\uff11\uff11-1111-1111-1111 12/29') }])), '/records/0/data/resolution/reason');
    const level = { storeId: 'S001', sku: '3782_822463_10005', onHand: 1, unitOfMeasure: 'EA', state: 'OK', lastMovement: null, updatedAt: now };
    await refused(await post(batch('S001-5-5', [{ stream: 'level', key: level.sku, data: level }])), '/records/0/data/sku');
    await refused(await post(batch('S001-6-6', []), { 'x-note': '4111 1111 1111 1111' }), '/headers/x-note');
    await refused(await fetch(`${hq.url}/v1/stock/4111.1111.1111.1111`), '/path');
    await refused(await fetch(`${hq.url}/v1/sales/stores?from=2026-11-01&note=4111_1111_1111_1111`), '/query');
    // An SKU of 13 or more digits in a row is no identifier, Luhn or not (the identifier rule).
    const longSku = await post(batch('S001-7-7', [{ stream: 'level', key: 'x', data: { ...level, sku: '1234567890123' } }]));
    expect(longSku.status).toBe(422);
    expect(await json<{ code: string; errors: Array<{ pointer: string }> }>(longSku)).toMatchObject({ code: 'UNPROCESSABLE', errors: [{ pointer: '/records/0/data/sku' }] });

    const { rows } = await hqDb.pool.query<{ batch_id: string }>('SELECT batch_id FROM hq_batches ORDER BY batch_id');
    expect(rows.map((r) => r.batch_id)).toEqual(['S001-1-2']);
  }, 60_000);
});
