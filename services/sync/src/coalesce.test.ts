import { describe, expect, it, onTestFinished } from 'vitest';
import { PosTransactionV1, type InventoryLevel, type SalesAggregate, type SyncRecord } from '@tillstream/contracts';
import { createPool, withTransaction, type Pool } from '@tillstream/db';
import { makeTransaction, testDatabase, testLogger } from '@tillstream/testing';
import { batchRecordsJson, cutBatches, outboxWriters, saveHqReads, unackedBatches, type CutOptions } from './outbox.ts';

/**
 * Issue 17 item 1: windows and levels wait for their latest revision within
 * the upload interval; transactions do not wait; only what HQ reads goes up
 * once HQ said what it reads. Driven by an injected clock, as sync's
 * cutter takes it: no sleeps.
 */

const LIMITS = { records: 2000, bytes: 8 * 1024 * 1024 };
const INTERVAL = 120_000;
const T0 = Date.parse('2026-11-20T10:00:00Z');

function aggregate(granularity: SalesAggregate['granularity'], revision: number, net: number): SalesAggregate {
  return {
    storeId: 'S001',
    granularity,
    windowStart: granularity === 'day' ? '2026-11-20T00:00:00Z' : '2026-11-20T10:00:00Z',
    businessDay: '2026-11-20',
    dimension: 'store',
    member: 'S001',
    figures: { units: revision, gross: net, discounts: 0, net, tax: 0, transactions: revision, items: revision, returns: 0, returnsUnits: 0, returnsAmount: 0 },
    revision,
    updatedAt: new Date(T0 + revision * 1000).toISOString(),
  };
}

function level(movement: number, onHand: number): InventoryLevel {
  return {
    storeId: 'S001',
    sku: 'SKU-1',
    onHand,
    state: 'OK',
    unitOfMeasure: 'EA',
    lastMovement: { id: String(movement), kind: 'SALE', quantity: -1, at: new Date(T0 + movement * 1000).toISOString() },
    updatedAt: new Date(T0 + movement * 1000).toISOString(),
  };
}

const sale = (seq: number) =>
  PosTransactionV1.parse(makeTransaction([{ sku: 'SKU-1', unitPrice: 100 }], { sequenceNumber: seq, businessDay: '2026-11-20', occurredAt: `2026-11-20T10:00:0${seq}Z` }));

/** A store database, written and cut as sync's own role does it, on a clock the test moves. */
async function store(): Promise<{ pool: Pool; clock: { ms: number }; write: ReturnType<typeof outboxWriters>; cut: (o?: CutOptions) => Promise<number>; uploaded: () => Promise<SyncRecord[]> }> {
  const db = await testDatabase({ target: 'store' });
  const pool = createPool({ connectionString: db.urlFor('sync'), logger: testLogger(), applicationName: 'coalesce-test', max: 2 });
  onTestFinished(() => pool.end());
  const clock = { ms: T0 };
  const now = () => new Date(clock.ms);
  const write = outboxWriters({ coalesce: true, now });
  const cut = (o: CutOptions = {}) => withTransaction(pool, (c) => cutBatches(c, 'S001', LIMITS, { coalesceMs: INTERVAL, now, ...o }));
  /** Every record in a batch so far, in upload order. */
  const uploaded = async () => {
    const out: SyncRecord[] = [];
    for (const b of await unackedBatches(pool)) out.push(...(JSON.parse((await batchRecordsJson(pool, b)).json) as SyncRecord[]));
    return out;
  };
  return { pool, clock, write, cut, uploaded };
}

describe('sync coalesces windows and levels within the upload interval', () => {
  it('revisions of one window appended within the interval upload once, at the latest revision; an older revision appended after a newer one changes nothing', async () => {
    const s = await store();
    for (const revision of [1, 2, 3]) {
      await withTransaction(s.pool, (c) => s.write.aggregates(c, [aggregate('day', revision, revision * 100)]));
      s.clock.ms += 10_000;
    }
    // A replayed older revision, after the newer ones.
    await withTransaction(s.pool, (c) => s.write.aggregates(c, [aggregate('day', 2, 200)]));
    // Not due yet: the first revision waited 30 s of the 120.
    expect(await s.cut()).toBe(0);
    expect(await s.uploaded()).toEqual([]);

    s.clock.ms = T0 + INTERVAL;
    expect(await s.cut()).toBe(1);
    const records = await s.uploaded();
    expect(records.map((r) => [r.stream, r.key, (r.data as SalesAggregate).revision, (r.data as SalesAggregate).figures.net])).toEqual([
      ['aggregate', 'day|2026-11-20T00:00:00Z|store|S001#3', 3, 300],
    ]);

    // Replayed after its key went up: still nothing (the key's latest revision is remembered).
    await withTransaction(s.pool, (c) => s.write.aggregates(c, [aggregate('day', 1, 100), aggregate('day', 3, 300)]));
    s.clock.ms += 10 * INTERVAL;
    expect(await s.cut()).toBe(0);
    expect(await s.uploaded()).toHaveLength(1);
  });

  it('a window cut into a batch in flight is not modified: its next revision follows in a batch of its own', async () => {
    const s = await store();
    await withTransaction(s.pool, (c) => s.write.aggregates(c, [aggregate('day', 1, 100)]));
    await withTransaction(s.pool, (c) => s.write.levels(c, [level(7, 5)]));
    s.clock.ms += INTERVAL;
    expect(await s.cut()).toBe(1);
    const [inFlight] = await unackedBatches(s.pool);
    const before = (await batchRecordsJson(s.pool, inFlight!)).json;

    // Newer revisions while the batch is in flight (not acknowledged yet).
    await withTransaction(s.pool, (c) => s.write.aggregates(c, [aggregate('day', 2, 250)]));
    await withTransaction(s.pool, (c) => s.write.levels(c, [level(9, 3), level(8, 4)]));
    expect((await batchRecordsJson(s.pool, inFlight!)).json).toBe(before);
    s.clock.ms += INTERVAL;
    expect(await s.cut()).toBe(1);

    const batches = await unackedBatches(s.pool);
    expect(batches).toHaveLength(2);
    expect((await batchRecordsJson(s.pool, batches[0]!)).json).toBe(before);
    const next = JSON.parse((await batchRecordsJson(s.pool, batches[1]!)).json) as SyncRecord[];
    expect(next.map((r) => r.key).sort()).toEqual(['SKU-1#9#' + new Date(T0 + 9000).toISOString(), 'day|2026-11-20T00:00:00Z|store|S001#2'].sort());
    expect(next.find((r) => r.stream === 'level')?.data).toMatchObject({ onHand: 3 });
  });

  it('transactions are not held by the interval: they are cut at once, and windows waiting meanwhile stay behind', async () => {
    const s = await store();
    const tx = sale(1);
    await withTransaction(s.pool, async (c) => {
      await s.write.aggregates(c, [aggregate('day', 1, 100)]);
      await s.write.transactions(c, [tx]);
    });
    expect(await s.cut()).toBe(1);
    expect((await s.uploaded()).map((r) => r.stream)).toEqual(['transaction']);
  });

  it('a batch waits for its minimum size or its maximum delay, whichever comes first', async () => {
    const s = await store();
    const txs = [1, 2, 3].map(sale);
    const opts = { minRecords: 3, maxDelayMs: 5000 };
    await withTransaction(s.pool, (c) => s.write.transactions(c, [txs[0]!]));
    expect(await s.cut(opts)).toBe(0);
    s.clock.ms += 1000;
    await withTransaction(s.pool, (c) => s.write.transactions(c, txs.slice(1)));
    // Three wait: cut together, in one batch.
    expect(await s.cut(opts)).toBe(1);
    const tx4 = sale(4);
    await withTransaction(s.pool, (c) => s.write.transactions(c, [tx4]));
    expect(await s.cut(opts)).toBe(0);
    s.clock.ms += 5000;
    // Alone, but it waited the longest delay.
    expect(await s.cut(opts)).toBe(1);
    expect((await unackedBatches(s.pool)).map((b) => b.records)).toEqual([3, 1]);
  });

  it('uploads every window until HQ declared what it reads, then only those granularities and dimensions', async () => {
    const s = await store();
    await withTransaction(s.pool, (c) => s.write.aggregates(c, [aggregate('5m', 1, 100), aggregate('1h', 1, 100), aggregate('day', 1, 100)]));
    expect(await saveHqReads(s.pool, { granularities: ['day'] })).toBe(true);
    expect(await saveHqReads(s.pool, { granularities: ['day'] })).toBe(false);
    await withTransaction(s.pool, (c) => s.write.aggregates(c, [aggregate('5m', 2, 200), aggregate('1h', 2, 200), aggregate('day', 2, 200)]));
    s.clock.ms += INTERVAL;
    await s.cut();
    const keys = (await s.uploaded()).map((r) => r.key).sort();
    // Before the declaration: every granularity (at the revision it had); after: day only.
    expect(keys).toEqual(['1h|2026-11-20T10:00:00Z|store|S001#1', '5m|2026-11-20T10:00:00Z|store|S001#1', 'day|2026-11-20T00:00:00Z|store|S001#2']);

    // Dimensions too: a day window of a terminal is left out once HQ names the dimensions it reads.
    expect(await saveHqReads(s.pool, { granularities: ['day'], dimensions: ['store', 'sku'] })).toBe(true);
    await withTransaction(s.pool, (c) => s.write.aggregates(c, [{ ...aggregate('day', 1, 10), dimension: 'terminal', member: 'T01' }, { ...aggregate('day', 1, 10), dimension: 'sku', member: 'SKU-1' }]));
    s.clock.ms += INTERVAL;
    await s.cut();
    const dims = (await s.uploaded()).map((r) => r.key);
    expect(dims).toContain('day|2026-11-20T00:00:00Z|sku|SKU-1#1');
    expect(dims).not.toContain('day|2026-11-20T00:00:00Z|terminal|T01#1');

    // The declaration is kept in PostgreSQL: a new writer (a restarted sync) reads it.
    const restarted = outboxWriters({ coalesce: false });
    await withTransaction(s.pool, (c) => restarted.aggregates(c, [aggregate('5m', 3, 300), aggregate('day', 3, 300)]));
    await s.cut();
    expect((await s.uploaded()).map((r) => r.key)).toContain('day|2026-11-20T00:00:00Z|store|S001#3');
    expect((await s.uploaded()).map((r) => r.key)).not.toContain('5m|2026-11-20T10:00:00Z|store|S001#3');
  });
});
