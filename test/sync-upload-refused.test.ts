import { describe, expect, it, onTestFinished } from 'vitest';
import { storeTopics, type PosTransactionInput } from '@tillstream/contracts';
import { issueStoreToken, listQuarantine, resolveQuarantine, withTransaction, type QuarantineRow } from '@tillstream/db';
import { hqEnv, startHq } from '@tillstream/hq';
import { TypedProducer } from '@tillstream/kafka';
import { syncEnv, startSync } from '@tillstream/sync';
import { bearer, httpProxy, kafkaServiceEnv, makeTransaction, publishAcknowledged, syncRedisUrl, testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testStoreClientEnv, testStoreFetch, testTlsEnv, testTokens, waitFor } from '@tillstream/testing';

/**
 * Issue 13 item 6, "sync never blocks forever". What went wrong: batches
 * were cut by record count only, so a backlog of large legal transactions
 * made a batch over HQ's body limit, and a batch HQ refused with a 4xx
 * (413, or 422 for a value HQ's validation rejects) was retried for ever:
 * every later batch and manifest of the store waited behind it. Here HQ
 * takes 64 KB per batch; the backlog holds one transaction larger than
 * that and one HQ refuses (a card-like digit run: the store's schema takes
 * it, HQ's scan does not), between ordinary sales.
 */

const STORE = 'S001';
const LIMIT = 64 * 1024;

/** `count` sales of one day on T01 from `firstSeq`, each about 1.3 KB as stored (four lines). */
function sales(businessDay: string, count: number, firstSeq: number): PosTransactionInput[] {
  return Array.from({ length: count }, (_, i) =>
    makeTransaction([{ sku: 'BREAD-1' }, { sku: 'BREAD-2' }, { sku: 'CAKE-1' }, { sku: 'COFFEE-1' }], {
      storeId: STORE,
      terminalId: 'T01',
      sequenceNumber: firstSeq + i,
      businessDay,
      occurredAt: new Date(Date.parse(`${businessDay}T09:00:00Z`) + i * 20_000).toISOString(),
    }),
  );
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

describe('sync with records HQ refuses', () => {
  it('one poison record in the middle of a backlog: split out and quarantined on both sides, every other record and every manifest reaches HQ, later batches are cut below the limit HQ publishes, the poison replays once fixed', async () => {
    const hqDb = await testDatabase({ target: 'hq' });
    const hqPrefix = (await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS })).prefix;
    const startTestHq = async (limit: number) => {
      const started = await startHq(
        hqEnv.parse({ ...testHqTlsEnv(), ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: hqPrefix, DATABASE_URL: hqDb.urlFor('hq'), PORT: '0', RECONCILE_INTERVAL_MS: '300', BATCH_BODY_LIMIT_BYTES: String(limit) }),
        { logger: testLogger('hq') },
      );
      onTestFinished(() => started.stop());
      await waitFor(async () => (await fetch(`${started.url}/readyz`, { headers: bearer((await testTokens(hqDb.pool, 'hq'))['hq-viewer']) })).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
      return started;
    };
    let hq = await startTestHq(LIMIT);
    const token = await issueStoreToken(hqDb.pool, STORE);

    // HQ publishes what it takes, to the store's credential only.
    const limits = await (await testStoreFetch(STORE))(`${hq.url}/v1/stores/${STORE}/limits`, { headers: { authorization: `Bearer ${token}` } });
    expect(limits.status).toBe(200);
    expect(await limits.json()).toEqual({ batchBodyBytes: LIMIT, batchRecords: 5000 });
    expect((await fetch(`${hq.url}/v1/stores/${STORE}/limits`)).status).toBe(401);

    const db = await testDatabase({ target: 'store' });
    const storeViewer = bearer((await testTokens(db.pool, 'store'))['store-viewer']);
    const kafka = await testKafka({ specs: storeTopics });
    const producer = new TypedProducer({ kafka: kafka.kafka, logger: kafka.logger, source: 'test', topicPrefix: kafka.prefix });
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const publish = (txs: PosTransactionInput[]) => publishAcknowledged(producer, db.pool, txs);

    // HQ is away while the backlog builds, so it is cut before the store knows HQ's limit (100 records, ~130 KB a batch).
    const proxy = await httpProxy({ target: () => hq.url, mode: 'down' });
    const sync = await startSync(
      syncEnv.parse({
        ...testTlsEnv(),
        ...(await testStoreClientEnv(STORE)),
        STORE_ID: STORE,
        TOPIC_PREFIX: kafka.prefix,
        ...kafkaServiceEnv('sync'),
        DATABASE_URL: db.urlFor('sync'),
        REDIS_URL: syncRedisUrl(),
        PORT: '0',
        HQ_URL: proxy.url,
        HQ_TOKEN: token,
        SYNC_BATCH_RECORDS: '100',
        SWEEP_INTERVAL_MS: '200',
        SYNC_COALESCE_MS: '300',
        SYNC_BATCH_MAX_DELAY_MS: '0',
        MANIFEST_INTERVAL_MS: '300',
        HEARTBEAT_INTERVAL_MS: '300',
        CATALOG_INTERVAL_MS: '300',
        RETRY_BASE_MS: '200',
        RETRY_MAX_MS: '1000',
      }),
      { logger: testLogger('sync') },
    );
    onTestFinished(() => sync.stop());

    const dayA = sales('2026-11-20', 150, 1);
    // A legal sale larger than HQ's whole batch limit: 500 lines (the most a transaction may have).
    const big = makeTransaction(
      Array.from({ length: 500 }, (_, i) => ({ sku: `SKU-${i}` })),
      { storeId: STORE, terminalId: 'T01', sequenceNumber: dayA[59]!.sequenceNumber, businessDay: '2026-11-20', occurredAt: dayA[59]!.occurredAt },
    );
    // A sale HQ's validation refuses and the store's does not: a Luhn-valid card-like run in a description.
    const carded = dayA[109]!;
    const card = { ...carded, lines: carded.lines!.map((l, i) => (i === 0 ? { ...l, description: 'Gift card 4111111111111111' } : l)) };
    const poisons = [big, card];
    dayA[59] = big;
    dayA[109] = card;
    const dayB = sales('2026-11-21', 100, 1);
    await publish([...dayA, ...dayB]);
    await waitFor(async () => (await json<{ backlog: { records: number; batches: number } }>(fetch(`${sync.url}/v1/sync/status`, { headers: storeViewer }))).backlog.batches >= 3, {
      timeoutMs: 30_000,
      message: 'the backlog cut into batches while HQ is away',
    });

    // HQ answers: the refused records are isolated, everything else arrives, and both days' manifests.
    proxy.mode = 'pass';
    const held = async () => (await hqDb.pool.query<{ transaction_id: string }>('SELECT transaction_id FROM hq_transactions WHERE store_id = $1', [STORE])).rows.map((r) => r.transaction_id);
    const expected = [...dayA, ...dayB].filter((t) => !poisons.includes(t)).map((t) => t.transactionId);
    await waitFor(async () => (await held()).length === expected.length, { timeoutMs: 60_000, message: 'every record but the poisons at HQ' });
    expect(new Set(await held())).toEqual(new Set(expected));
    const manifests = async () =>
      (await hqDb.pool.query<{ business_day: string; status: string }>("SELECT to_char(business_day, 'YYYY-MM-DD') AS business_day, status FROM hq_manifests WHERE store_id = $1 ORDER BY 1", [STORE])).rows;
    await waitFor(async () => {
      const m = await manifests();
      return m.length === 2 && m.every((d) => d.status !== 'pending') ? m : undefined;
    }, { timeoutMs: 30_000, message: 'both days verified at HQ' });
    // The day without poison is complete; the day with it is not (HQ is missing two of its sales).
    expect(await manifests()).toEqual([
      { business_day: '2026-11-20', status: 'gaps' },
      { business_day: '2026-11-21', status: 'complete' },
    ]);

    // Each poison is set aside alone, with HQ's refusal: 413 for the big one, 422 for the card-like run.
    const { rows: refused } = await db.pool.query<{ key: string; refusal: string }>(
      `SELECT o.record_key AS key, b.refusal FROM sync_batches b JOIN sync_outbox o ON o.id BETWEEN b.first_id AND b.last_id WHERE b.refused_at IS NOT NULL ORDER BY o.id`,
    );
    expect(refused.map((r) => r.key)).toEqual(poisons.map((p) => p.transactionId));
    expect(refused[0]!.refusal).toMatch(/413|at most 65536/);
    expect(refused[1]!.refusal).toMatch(/422/);
    // ... and listed in the quarantine on both sides, naming the sale and HQ's reason.
    const entries = (rows: QuarantineRow[]) => rows.map((r) => ({ source: r.source, service: r.service, code: r.code, transactionId: r.transactionId, businessDay: r.businessDay, status: r.status }));
    const poisonEntries = (status: string[]) =>
      poisons.map((p, i) => ({ source: 'upload-refused', service: 'sync', code: ['PAYLOAD_TOO_LARGE', 'CARD_NUMBER_DETECTED'][i], transactionId: p.transactionId, businessDay: '2026-11-20', status: status[i] }));
    expect(entries(await listQuarantine(db.pool, 'store', { status: 'all' }))).toEqual(poisonEntries(['open', 'open']));
    await waitFor(async () => (await listQuarantine(hqDb.pool, 'hq', { storeId: STORE })).length === 2, { timeoutMs: 30_000, message: "the store's quarantine at HQ" });
    expect(entries(await listQuarantine(hqDb.pool, 'hq', { storeId: STORE }))).toEqual(poisonEntries(['open', 'open']));
    expect((await listQuarantine(db.pool, 'store'))[1]!.message).not.toContain('4111111111111111');

    // Now that the store knows HQ's limit, new sales are cut below it: every batch acknowledged, none refused or split (HQ's
    // 413 makes sync split a batch or refuse a single record). A batch may still be sent twice for a transient reason, a
    // timeout on a loaded machine: that is sync's retry, not a refusal, so attempts are not counted.
    const { rows: mark } = await db.pool.query<{ last: string }>('SELECT max(id) AS last FROM sync_outbox');
    const dayC = sales('2026-11-22', 150, 1);
    await publish(dayC);
    await waitFor(async () => (await held()).length === expected.length + dayC.length, { timeoutMs: 60_000, message: 'the third day at HQ' });
    // HQ's view can book a batch before the store records HQ's answer: wait for the store's side too.
    await waitFor(async () => (await json<{ backlog: { records: number } }>(fetch(`${sync.url}/v1/sync/status`, { headers: storeViewer }))).backlog.records === 0, { message: 'the store to record every acknowledgement' });
    const { rows: cut } = await db.pool.query<{ records: number; acked: boolean; refused: boolean; split: boolean }>(
      `SELECT records, acked_at IS NOT NULL AS acked, refused_at IS NOT NULL AS refused, split_of IS NOT NULL AS split FROM sync_batches WHERE first_id > $1 ORDER BY first_id`,
      [mark[0]!.last],
    );
    expect(cut.reduce((n, b) => n + b.records, 0)).toBe(dayC.length);
    expect(cut.length).toBeGreaterThan(2); // 150 sales of ~1.3 KB do not fit 64 KB in two batches
    expect(cut.filter((b) => !b.acked || b.refused || b.split)).toEqual([]);

    // Fixed at HQ (it takes 1 MB now), the big sale is replayed from quarantine and reaches HQ. The card-like one,
    // replayed unfixed, is refused again and its entry is open again; then it is discarded with a reason.
    await hq.stop();
    hq = await startTestHq(1024 * 1024);
    const [bigEntry, cardEntry] = await listQuarantine(db.pool, 'store');
    await withTransaction(db.pool, async (client) => {
      await resolveQuarantine(client, 'store', bigEntry!.id, { status: 'replayed', actor: 'test' });
      await resolveQuarantine(client, 'store', cardEntry!.id, { status: 'replayed', actor: 'test' });
    });
    await waitFor(async () => (await held()).includes(big.transactionId), { timeoutMs: 60_000, message: 'the replayed sale at HQ' });
    const reopened = await waitFor(async () => (await listQuarantine(db.pool, 'store')).find((e) => e.id === cardEntry!.id), { timeoutMs: 30_000, message: 'the card-like sale refused again' });
    expect(reopened.revision).toBe(3);
    await withTransaction(db.pool, (client) => resolveQuarantine(client, 'store', cardEntry!.id, { status: 'discarded', actor: 'test', reason: 'a card number typed as a description' }));
    await waitFor(async () => JSON.stringify(entries(await listQuarantine(hqDb.pool, 'hq', { storeId: STORE, status: 'all' }))) === JSON.stringify(poisonEntries(['replayed', 'discarded'])), {
      timeoutMs: 30_000,
      message: 'the resolutions at HQ',
    });
    expect((await held()).filter((id) => id === big.transactionId)).toHaveLength(1);
  }, 180_000);
});
