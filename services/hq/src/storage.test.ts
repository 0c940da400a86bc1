import { describe, expect, it, onTestFinished } from 'vitest';
import { PosTransactionV1, SalesAggregateV1, type SalesAggregate } from '@tillstream/contracts';
import { testServicePool } from '@tillstream/consumer-service/testing';
import { createClient, issueStoreToken, LOCK_NAMESPACE } from '@tillstream/db';
import {
  bearer,
  kafkaServiceEnv,
  makeTransaction,
  testDatabase,
  testEnv,
  testHqTlsEnv,
  testKafka,
  testLogger,
  testStoreFetch,
  testTokens,
  waitFor,
  type TestDatabase,
} from '@tillstream/testing';
import { hqEnv } from './env.ts';
import { startHq } from './service.ts';
import { maintainStorage, type StorageReport, type StorageSettings } from './storage.ts';
import { writeAggregates, writeTransactions } from './views.ts';

/** A transaction of `day` as HQ's view consumer books it. */
const txOn = (day: string, storeId = 'S001') => PosTransactionV1.parse(makeTransaction([{ sku: 'A' }], { storeId, occurredAt: `${day}T10:00:00Z`, businessDay: day }));

const aggregateAt = (windowStart: string, granularity: 'day' | '1h', revision = 1): SalesAggregate =>
  SalesAggregateV1.parse({
    storeId: 'S001',
    granularity,
    windowStart,
    businessDay: granularity === 'day' ? windowStart.slice(0, 10) : null,
    dimension: 'store',
    member: 'all',
    revision,
    updatedAt: '2031-01-01T00:00:00Z',
    figures: { units: revision, gross: 100, discounts: 0, net: 100, tax: 0, transactions: 1, items: 1, returns: 0, returnsUnits: 0, returnsAmount: 0 },
  });

/** Where each row of `table` lies: its partition, by key. */
async function placement(db: TestDatabase, table: 'hq_transactions' | 'hq_sales_aggregates', key: string): Promise<Record<string, string>> {
  const { rows } = await db.pool.query<{ key: string; part: string }>(`SELECT ${key} AS key, tableoid::regclass::text AS part FROM ${table}`);
  return Object.fromEntries(rows.map((r) => [r.key, r.part]));
}

async function partitions(db: TestDatabase, table: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ relname: string }>(
    'SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1',
    [table],
  );
  return rows.map((r) => r.relname);
}

/** A round of upkeep that ran (HQ's own process, in the service test, may hold the lock for a moment). */
async function maintained(db: TestDatabase, settings: StorageSettings, now: Date): Promise<StorageReport> {
  const pool = testServicePool(db, 'hq');
  let report: StorageReport | undefined;
  await waitFor(async () => !(report = await maintainStorage(pool, settings, now)).skipped, { message: 'the storage upkeep lock' });
  return report!;
}

const SETTINGS: StorageSettings = { retentionMonths: 12, partitionsAhead: 2, batchRetentionDays: 35 };

describe('HQ storage: monthly partitions', () => {
  it("books each row in its month's partition, and a day without one in the DEFAULT partition, moved to its month when that is created", async () => {
    const db = await testDatabase({ target: 'hq' });
    const hq = testServicePool(db, 'hq');
    expect((await maintained(db, SETTINGS, new Date('2031-03-15T12:00:00Z'))).created).toEqual([
      'hq_transactions_p203103',
      'hq_transactions_p203104',
      'hq_transactions_p203105',
      'hq_sales_aggregates_p203103',
      'hq_sales_aggregates_p203104',
      'hq_sales_aggregates_p203105',
    ]);
    const march = txOn('2031-03-31');
    const april = txOn('2031-04-01');
    const beyond = txOn('2031-09-02'); // past the partitions created: still accepted
    await writeTransactions(hq, [march, april, beyond]);
    await writeAggregates(hq, [aggregateAt('2031-03-31T23:00:00Z', '1h'), aggregateAt('2031-04-01T00:00:00Z', 'day'), aggregateAt('2031-12-01T00:00:00Z', 'day')]);
    expect(await placement(db, 'hq_transactions', 'transaction_id::text')).toEqual({
      [march.transactionId]: 'hq_transactions_p203103',
      [april.transactionId]: 'hq_transactions_p203104',
      [beyond.transactionId]: 'hq_transactions_default',
    });
    expect(await placement(db, 'hq_sales_aggregates', "to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')")).toEqual({
      '2031-03-31 23': 'hq_sales_aggregates_p203103',
      '2031-04-01 00': 'hq_sales_aggregates_p203104',
      '2031-12-01 00': 'hq_sales_aggregates_default',
    });

    // A copy of each (a re-sent batch, a replay) changes nothing, in a partition or in the default; a higher revision moves the aggregate, wherever it lies.
    await writeTransactions(hq, [march, april, beyond]);
    await writeAggregates(hq, [aggregateAt('2031-12-01T00:00:00Z', 'day', 2), aggregateAt('2031-04-01T00:00:00Z', 'day', 1)]);
    expect(Number((await db.pool.query('SELECT count(*) AS n FROM hq_transactions')).rows[0].n)).toBe(3);
    const { rows: revisions } = await db.pool.query<{ day: string; revision: number }>(
      "SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, revision FROM hq_sales_aggregates WHERE granularity = 'day' ORDER BY 1",
    );
    expect(revisions).toEqual([
      { day: '2031-04-01', revision: 1 },
      { day: '2031-12-01', revision: 2 },
    ]);

    // September's partition comes with the clock: the row the default held moves into it, and stays unique there.
    const later = await maintained(db, SETTINGS, new Date('2031-07-20T00:00:00Z'));
    expect(later.created).toContain('hq_transactions_p203109');
    expect((await placement(db, 'hq_transactions', 'transaction_id::text'))[beyond.transactionId]).toBe('hq_transactions_p203109');
    await writeTransactions(hq, [beyond]);
    expect(Number((await db.pool.query('SELECT count(*) AS n FROM hq_transactions')).rows[0].n)).toBe(3);
    // A second round changes nothing.
    expect(await maintained(db, SETTINGS, new Date('2031-07-20T00:00:00Z'))).toMatchObject({ created: [], dropped: [] });
  });

  it('retention drops whole months past it, with their manifests, replay requests and alerts, and nothing else', async () => {
    const db = await testDatabase({ target: 'hq' });
    const hq = testServicePool(db, 'hq');
    await maintained(db, SETTINGS, new Date('2031-03-15T00:00:00Z'));
    const old = [txOn('2031-03-01'), txOn('2031-04-30')];
    const kept = [txOn('2031-05-01'), txOn('2031-05-31', 'S002')];
    const ancient = txOn('2029-07-04'); // no partition: in the default, and past retention below
    const future = txOn('2036-01-01'); // in the default, ahead of everything
    await writeTransactions(hq, [...old, ...kept, ancient, future]);
    await writeAggregates(hq, [aggregateAt('2031-04-30T00:00:00Z', 'day'), aggregateAt('2031-05-01T00:00:00Z', 'day')]);
    for (const day of ['2031-04-30', '2031-05-01']) {
      await db.pool.query("INSERT INTO hq_manifests (store_id, business_day, manifest, received_at, status) VALUES ('S001', $1, '{}', now(), 'complete')", [day]);
      await db.pool.query("INSERT INTO hq_replay_requests (store_id, business_day, terminal_id, from_seq, to_seq) VALUES ('S001', $1, 'T01', 1, 2)", [day]);
      await db.pool.query("INSERT INTO hq_inventory_alerts (store_id, alert_id, sku, type, on_hand, at) VALUES ('S001', $1, 'A', 'LOW_STOCK', 1, $2)", [day, `${day}T08:00:00Z`]);
    }

    // May 2032, 12 months kept before it: May 2031 onwards stays, April 2031 and before goes.
    const report = await maintained(db, SETTINGS, new Date('2032-05-10T00:00:00Z'));
    expect(report.dropped).toEqual(expect.arrayContaining(['hq_transactions_p203103', 'hq_transactions_p203104', 'hq_sales_aggregates_p203104']));
    expect(report.dropped.filter((p) => p >= 'hq_transactions_p203105' || (p.startsWith('hq_sales') && p >= 'hq_sales_aggregates_p203105'))).toEqual([]);
    expect(report.pruned).toMatchObject({ hq_manifests: 1, hq_replay_requests: 1, hq_inventory_alerts: 1 });
    expect(await partitions(db, 'hq_transactions')).toEqual([
      'hq_transactions_default',
      'hq_transactions_p203105',
      'hq_transactions_p203205',
      'hq_transactions_p203206',
      'hq_transactions_p203207',
    ]);
    const { rows } = await db.pool.query<{ id: string }>('SELECT transaction_id::text AS id FROM hq_transactions');
    expect(rows.map((r) => r.id).sort()).toEqual([...kept, future].map((t) => t.transactionId).sort());
    const days = async (sql: string) => (await db.pool.query<{ d: string }>(sql)).rows.map((r) => r.d);
    expect(await days("SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM hq_sales_aggregates")).toEqual(['2031-05-01']);
    expect(await days("SELECT to_char(business_day, 'YYYY-MM-DD') AS d FROM hq_manifests")).toEqual(['2031-05-01']);
    expect(await days("SELECT to_char(business_day, 'YYYY-MM-DD') AS d FROM hq_replay_requests")).toEqual(['2031-05-01']);
    expect(await days("SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM hq_inventory_alerts")).toEqual(['2031-05-01']);
  });

  it('refuses settings that make no sense, changing nothing; one HQ process at a time does the upkeep', async () => {
    const db = await testDatabase({ target: 'hq' });
    const hq = testServicePool(db, 'hq');
    const before = await partitions(db, 'hq_transactions');
    for (const [ahead, retention] of [[-1, 12], [3, 0], [121, 12]]) {
      const err = await maintainStorage(hq, { ...SETTINGS, partitionsAhead: ahead!, retentionMonths: retention! }).then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      expect(err?.code, `ahead ${ahead}, retention ${retention}`).toBe('22023');
    }
    expect(await partitions(db, 'hq_transactions')).toEqual(before);
    // HQ's role creates and drops partitions only through the upkeep function.
    const denied = await hq.query('CREATE TABLE hq_transactions_p209901 PARTITION OF hq_transactions FOR VALUES FROM (\'2099-01-01\') TO (\'2099-02-01\')').then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(denied?.code).toBe('42501');

    // Another HQ process holds the upkeep: this one skips its round.
    const other = createClient({ connectionString: db.urlFor('hq') });
    await other.connect();
    onTestFinished(() => other.end());
    await other.query('SELECT pg_advisory_lock($1, 0)', [LOCK_NAMESPACE.hqStorage]);
    expect(await maintainStorage(hq, SETTINGS, new Date('2040-01-01T00:00:00Z'))).toMatchObject({ skipped: true, created: [], dropped: [] });
    expect(await partitions(db, 'hq_transactions')).toEqual(before);
    await other.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_NAMESPACE.hqStorage]);
    expect((await maintainStorage(hq, SETTINGS, new Date('2040-01-01T00:00:00Z'))).skipped).toBe(false);
  });
});

describe('HQ storage: applied batches', () => {
  it('keeps batches younger than the horizon, so a retried batch changes nothing; past it, a copy is applied again and the views still count it once', async () => {
    const db = await testDatabase({ target: 'hq' });
    const { prefix } = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
    const hq = await startHq(hqEnv.parse({ ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: prefix, DATABASE_URL: db.urlFor('hq'), PORT: '0', ...testHqTlsEnv() }), { logger: testLogger('hq') });
    onTestFinished(() => hq.stop());
    const tokens = await testTokens(db.pool, 'hq');
    await waitFor(async () => (await fetch(`${hq.url}/readyz`, { headers: bearer(tokens['hq-viewer']) })).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
    const token = await issueStoreToken(db.pool, 'S001');
    const asS001 = await testStoreFetch('S001');
    const tx = makeTransaction([{ sku: 'A' }], { storeId: 'S001' });
    const batch = { batchId: 'S001-1-1', records: [{ stream: 'transaction', key: tx.transactionId, data: tx }], backlog: { records: 0, oldestAt: null } };
    const post = () =>
      asS001(`${hq.url}/v1/stores/S001/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': batch.batchId },
        body: JSON.stringify(batch),
      });
    expect((await post()).status).toBe(201);
    const held = async () => Number((await db.pool.query('SELECT count(*) AS n FROM hq_transactions WHERE transaction_id = $1', [tx.transactionId])).rows[0].n);
    await waitFor(async () => (await held()) === 1, { message: 'the view to book the transaction' });
    const remembered = async () => (await db.pool.query<{ result: unknown }>("SELECT result FROM hq_batches WHERE batch_id = 'S001-1-1'")).rows;
    const [applied] = await remembered();

    // 34 days on: inside the horizon, the batch is kept; its retry is answered with the stored result and writes nothing.
    const day = 24 * 3600_000;
    expect((await maintained(db, SETTINGS, new Date(Date.now() + 34 * day))).pruned.hq_batches).toBe(0);
    const retried = await post();
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(await retried.json()).toEqual(applied!.result);
    expect(await remembered()).toEqual([applied]);

    // 36 days on: past it, the batch is forgotten; a copy sent after that is applied again, and HQ's view still holds the transaction once.
    expect((await maintained(db, SETTINGS, new Date(Date.now() + 36 * day))).pruned.hq_batches).toBe(1);
    expect(await remembered()).toEqual([]);
    const booked = async () => Number((await db.pool.query<{ n: string }>("SELECT sum(next_offset) AS n FROM consumer_offsets WHERE topic LIKE '%hq.transactions.v1'")).rows[0]!.n);
    const before = await booked();
    expect((await post()).status).toBe(201);
    expect(await remembered()).toHaveLength(1);
    await waitFor(async () => (await booked()) > before, { message: 'the view to book the copy' });
    expect(await held()).toBe(1);

    // A claim an API process left when it crashed mid-batch, for a batch never sent again: gone once past the same horizon, a live one kept.
    await db.pool.query(
      `INSERT INTO hq_batch_claims (store_id, batch_id, claim_id, body_hash, claimed_until)
       VALUES ('S001', 'S001-9-9', gen_random_uuid(), '\\x00', now()), ('S001', 'S001-9-10', gen_random_uuid(), '\\x00', now() + interval '40 days')`,
    );
    expect((await maintained(db, SETTINGS, new Date(Date.now() + 36 * day))).pruned.hq_batch_claims).toBe(1);
    expect((await db.pool.query<{ batch_id: string }>('SELECT batch_id FROM hq_batch_claims')).rows.map((r) => r.batch_id)).toEqual(['S001-9-10']);
  }, 60_000);
});
