import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { salesAggregates, type SalesAggregate } from '@tillstream/contracts';
import { createPool, migrate, type Pool } from '@tillstream/db';
import { testDatabase, testLogger } from '@tillstream/testing';
import type { OutboxItem } from '@tillstream/kafka';
import { aggregateColumns, aggregatesOutbox, toAggregate } from './facts.ts';
import { addToWindows, sumWindows, type Contribution, type Sums } from './windows.ts';

const sale = (occurredAt: string, sku: string, net: number): Contribution => ({
  sign: 1,
  type: 'SALE',
  businessDay: occurredAt.slice(0, 10),
  occurredAtMs: Date.parse(occurredAt),
  terminalId: 'T01',
  lines: [{ sku, category: 'bakery', unitsMilli: 1000, gross: net, discount: 0, net, tax: 0 }],
  tenders: [{ type: 'CASH', amount: net }],
});

/** The migration that gives every slot with windows its row (the consumer inserts a new slot's windows without ON CONFLICT). */
const SLOT_ROWS_MIGRATION = '20261204010000000';

/** Adds sums to their windows in one database transaction, as the consumer does (rolled back if it fails). */
async function bookWindows(pool: Pool, sums: readonly Sums[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await addToWindows(client, sums);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

/** An item's data as the broker gets it (the source writes it as JSON). */
const dataOf = (item: OutboxItem): unknown => {
  if (!('dataJson' in item)) throw new Error(`item ${item.id} carries no JSON`);
  return JSON.parse(item.dataJson);
};

describe('sales.aggregates.v1 outbox (changed slots)', () => {
  it('publishes each changed window at its latest revision, keeps a slot restated between read and acknowledge, and then runs dry', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    const outbox = aggregatesOutbox(pool, { storeId: 'S001', timeZone: 'UTC' });
    const book = (contributions: Contribution[]) => bookWindows(pool, sumWindows(contributions, 'UTC'));
    const storeDay = (items: Awaited<ReturnType<typeof outbox.read>>) =>
      items.map((i) => dataOf(i) as { granularity: string; dimension: string; revision: number; figures: { net: number } }).filter((a) => a.granularity === 'day' && a.dimension === 'store');

    // Two SKUs in two 5-minute windows: 2 x 5 windows at 5 minutes (store, its SKU, category, terminal, tender), 6 in the hour, 6 in the day.
    await book([sale('2026-03-01T09:00:00Z', 'A', 100), sale('2026-03-01T09:07:00Z', 'B', 50)]);
    expect(await outbox.backlog()).toBe(22);
    const first = await outbox.read(1000);
    expect(first).toHaveLength(22);
    // Published without validating again on send (the source is `validated`): what it builds matches the topic's schema.
    for (const item of first) expect(salesAggregates.envelope.safeParse({ schema: salesAggregates.schemaId, eventId: randomUUID(), storeId: 'S001', source: 'trends', producedAt: new Date().toISOString(), data: dataOf(item) }).success).toBe(true);
    expect(storeDay(first)).toMatchObject([{ revision: 1, figures: { net: 150 } }]);

    // A batch restates the day while the first round is on its way to the broker.
    await book([sale('2026-03-01T18:00:00Z', 'A', 100)]);
    await outbox.acknowledge(first);
    const second = await outbox.read(1000);
    expect(storeDay(second)).toMatchObject([{ revision: 2, figures: { net: 250 } }]);
    // Only what changed: the day and hour slots of the new sale, not the morning's 5-minute windows again.
    expect(second.every((i) => (dataOf(i) as { windowStart: string }).windowStart !== '2026-03-01T09:05:00.000Z')).toBe(true);
    await outbox.acknowledge(second);

    expect(await outbox.read(1000)).toEqual([]);
    expect(await outbox.backlog()).toBe(0);
    // No slot is listed any more (slot rows stay, published up to their count), and no window was written to publish it.
    expect(Number((await pool.query('SELECT count(*) AS n FROM sales_aggregate_changes WHERE changes > published_changes')).rows[0].n)).toBe(0);
    await pool.end();
  });

  it('fills a round with whole slots, even past the limit, until every window is published', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    const outbox = aggregatesOutbox(pool, { storeId: 'S001', timeZone: 'UTC' });
    // 300 SKUs sold in one 5-minute window (slots with 300 windows), and 250 5-minute windows of one SKU (250 slots).
    const many = [
      ...Array.from({ length: 300 }, (_, i) => sale('2026-03-02T10:00:00Z', `SKU-${i}`, 10)),
      ...Array.from({ length: 250 }, (_, i) => sale(new Date(Date.parse('2026-03-03T00:00:00Z') + i * 300_000).toISOString(), 'ONE', 10)),
    ];
    await bookWindows(pool, sumWindows(many, 'UTC'));
    const total = await outbox.backlog();
    const seen = new Set<string>();
    const slotsSeen = new Set<string>();
    for (let rounds = 0; ; rounds++) {
      expect(rounds).toBeLessThan(40);
      const items = await outbox.read(100);
      if (items.length === 0) break;
      const slots = new Set<string>();
      for (const i of items) {
        const { granularity, dimension, member, windowStart } = dataOf(i) as SalesAggregate;
        seen.add(JSON.stringify([granularity, dimension, member, windowStart]));
        slots.add(JSON.stringify([granularity, dimension, windowStart]));
      }
      // Whole slots: none read in an earlier round (nothing was restated meanwhile).
      for (const slot of slots) expect(slotsSeen.has(slot)).toBe(false);
      for (const slot of slots) slotsSeen.add(slot);
      await outbox.acknowledge(items);
    }
    expect(seen.size).toBe(total);
    await pool.end();
  });

  it('reads the rounds after a round not yet acknowledged, whole slots each, to the end of the list', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    const outbox = aggregatesOutbox(pool, { storeId: 'S001', timeZone: 'UTC' });
    const many = Array.from({ length: 120 }, (_, i) => sale(new Date(Date.parse('2026-03-05T00:00:00Z') + i * 300_000).toISOString(), `SKU-${i % 7}`, 10));
    await bookWindows(pool, sumWindows(many, 'UTC'));
    const total = await outbox.backlog();
    const rounds: OutboxItem[][] = [];
    for (let after: OutboxItem | undefined; ; ) {
      expect(rounds.length).toBeLessThan(100);
      const items = await outbox.read(50, after);
      if (items.length === 0) break;
      rounds.push(items);
      after = items[items.length - 1];
    }
    const slotOf = (i: OutboxItem) => {
      const a = dataOf(i) as SalesAggregate;
      return JSON.stringify([a.granularity, a.dimension, a.windowStart]);
    };
    // Every window once, and no slot in two rounds.
    const windows = rounds.flat().map((i) => JSON.stringify([slotOf(i), (dataOf(i) as SalesAggregate).member]));
    expect(new Set(windows).size).toBe(total);
    expect(windows).toHaveLength(total);
    const slotRounds = new Map<string, Set<number>>();
    rounds.forEach((items, n) => items.forEach((i) => slotRounds.set(slotOf(i), (slotRounds.get(slotOf(i)) ?? new Set()).add(n))));
    expect([...slotRounds.values()].every((r) => r.size === 1)).toBe(true);
    for (const items of rounds) await outbox.acknowledge(items);
    expect(await outbox.backlog()).toBe(0);
    await pool.end();
  });

  it('while catching up, publishes the 5-minute and hourly slots event time has moved two hours past; the current ones and the running day when the hold ends', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    const outbox = aggregatesOutbox(pool, { storeId: 'S001', timeZone: 'UTC' }, { publishWhileHeld: true });
    await bookWindows(pool, sumWindows([sale('2026-03-04T08:00:00Z', 'A', 10), sale('2026-03-04T12:00:00Z', 'B', 20)], 'UTC'));
    const total = await outbox.backlog();
    const held = await outbox.readWhileHeld!(1000);
    // 08:00's 5-minute and hourly windows (5 each); not 12:00's, not the day's.
    expect(held).toHaveLength(10);
    expect(held.every((i) => (dataOf(i) as { windowStart: string }).windowStart.startsWith('2026-03-04T08:00'))).toBe(true);
    await outbox.acknowledge(held);
    // Late data restates the published 08:00 hour: it is listed, and published, again.
    await bookWindows(pool, sumWindows([sale('2026-03-04T08:30:00Z', 'A', 5)], 'UTC'));
    const again = await outbox.readWhileHeld!(1000);
    expect(again.map((i) => dataOf(i) as { granularity: string; dimension: string; revision: number; figures: { net: number } }).filter((a) => a.granularity === '1h' && a.dimension === 'store')).toMatchObject([
      { revision: 2, figures: { net: 15 } },
    ]);
    await outbox.acknowledge(again);
    const rest = await outbox.read(1000);
    expect(rest.length + held.length + again.length).toBe(total + again.length);
    await outbox.acknowledge(rest);
    expect(await outbox.backlog()).toBe(0);
    await pool.end();
  });

  it('while catching up, publishes a day once event time is two hours past its end, not before', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    const outbox = aggregatesOutbox(pool, { storeId: 'S001', timeZone: 'UTC' }, { publishWhileHeld: true });
    const book = (contributions: Contribution[]) => bookWindows(pool, sumWindows(contributions, 'UTC'));
    const days = (items: OutboxItem[]) => new Set(items.map((i) => dataOf(i) as { granularity: string; businessDay: string | null }).filter((a) => a.granularity === 'day').map((a) => a.businessDay));
    // Event time at 01:55 the next day: March 4th's business day may still run (a store open past midnight).
    await book([sale('2026-03-04T08:00:00Z', 'A', 10), sale('2026-03-04T23:50:00Z', 'B', 20), sale('2026-03-05T01:55:00Z', 'A', 5)]);
    const early = await outbox.readWhileHeld!(1000);
    expect(days(early)).toEqual(new Set());
    await outbox.acknowledge(early);
    // At 02:05 it is two hours past: March 4th's windows go out (store, SKUs A and B, category, terminal, tender); not the 5th's.
    await book([sale('2026-03-05T02:05:00Z', 'B', 7)]);
    const settled = await outbox.readWhileHeld!(1000);
    expect(days(settled)).toEqual(new Set(['2026-03-04']));
    expect(settled.filter((i) => (dataOf(i) as { granularity: string }).granularity === 'day')).toHaveLength(6);
    await outbox.acknowledge(settled);
    // The rest (the 5th, the last two hours) when the hold ends; nothing twice.
    const rest = await outbox.read(1000);
    expect(days(rest)).toEqual(new Set(['2026-03-05']));
    await outbox.acknowledge(rest);
    expect(await outbox.backlog()).toBe(0);
    await pool.end();
  });

  it("writes each window's data byte for byte as toAggregate and JSON.stringify would, with the topic's key", async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    // A zone with a DST change on the day (02:00 -> 03:00), members JSON must escape, fractional and negative quantities.
    const ctx = { storeId: 'S001', timeZone: 'Europe/Berlin' };
    const line = (sku: string, category: string, unitsMilli: number, net: number) => ({ sku, category, unitsMilli, gross: net + 7, discount: 7, net, tax: Math.round(net / 10) });
    const contributions: Contribution[] = [
      { ...sale('2026-03-29T00:58:00Z', 'A', 100), lines: [line('Pain "au" chocolat \\ é', 'bakery', 1500, 255), line('KILO-CHEESE', 'cheese\u0001/tab\t', 2, 9)] },
      { ...sale('2026-03-29T01:03:00Z', 'A', 100), terminalId: 'T-😀', lines: [line('A', 'bakery', 1000, 100)], tenders: [{ type: 'CARD', amount: 100 }] },
      { sign: 1, type: 'RETURN', businessDay: '2026-03-29', occurredAtMs: Date.parse('2026-03-29T01:10:00Z'), terminalId: 'T01', lines: [line('A', 'bakery', -1000, -100), line('Pain "au" chocolat \\ é', 'bakery', -250, -42)], tenders: [{ type: 'CASH', amount: -142 }] },
      { ...sale('2026-03-29T12:00:00Z', 'B', 0), lines: [line('B', 'bakery', 123_456_789_012_345, 2 ** 40)] },
    ];
    await bookWindows(pool, sumWindows(contributions, ctx.timeZone));
    // Microseconds that a millisecond field truncates (as the Date parsed from pg's text does), on a few windows.
    await pool.query(`UPDATE sales_aggregates SET updated_at = '2026-03-29 01:59:59.999999+00' WHERE dimension = 'sku'`);
    const { rows } = await pool.query<Parameters<typeof toAggregate>[1]>(`SELECT ${aggregateColumns('$1')} FROM sales_aggregates`, [ctx.timeZone]);
    const expected = new Map(rows.map((r) => toAggregate(ctx.storeId, r)).map((a) => [salesAggregates.key(a), JSON.stringify(a)]));

    const items = await aggregatesOutbox(pool, ctx).read(10_000);
    expect(items).toHaveLength(rows.length);
    expect(rows.length).toBeGreaterThan(40);
    for (const item of items) {
      if (!('dataJson' in item)) throw new Error(`item ${item.id} carries no JSON`);
      expect(item.dataJson).toBe(expected.get(item.key));
      expect(item.key).toBe(salesAggregates.key(JSON.parse(item.dataJson) as SalesAggregate));
    }
    // The cases above were all there: quantities with fractions, negative ones, escapes, a day, the DST change.
    const all = items.map((i) => ('dataJson' in i ? i.dataJson : ''));
    for (const needle of ['"units":1.5', '"units":-0.25', '"units":123456789012.345', '\\"au\\"', '\\u0001', '😀', '"businessDay":"2026-03-29"', '"windowStart":"2026-03-29T01:00:00.000Z"', '"updatedAt":"2026-03-29T01:59:59.999Z"']) {
      expect(all.some((j) => j.includes(needle)), needle).toBe(true);
    }
    await pool.end();
  });

  it('books windows named by their slot, each stamped with its slot\'s count, and refuses sums out of key order, changing nothing', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    const book = (sums: Sums[]) => bookWindows(pool, sums);
    const slots = () => pool.query<{ granularity: string; dimension: string; window: string; changes: string }>(`SELECT granularity, dimension, to_char(window_start, 'YYYY-MM-DD HH24:MI') AS window, changes FROM sales_aggregate_changes ORDER BY 1, 2, 3`);
    const stamps = () => pool.query<{ granularity: string; dimension: string; member: string; window: string; slot_change: string; net: string }>(`SELECT granularity, dimension, member, to_char(window_start, 'YYYY-MM-DD HH24:MI') AS window, slot_change, net FROM sales_aggregates ORDER BY 1, 2, 3, 4`);
    await book(sumWindows([sale('2026-03-05T08:00:00Z', 'A', 10), sale('2026-03-05T08:01:00Z', 'B', 20), sale('2026-03-05T09:00:00Z', 'A', 5)], 'UTC'));
    await book(sumWindows([sale('2026-03-05T09:02:00Z', 'C', 7)], 'UTC'));
    // 09:00's slots and the day's were changed twice, 08:00's once.
    const counts = new Map((await slots()).rows.map((r) => [`${r.granularity}|${r.dimension}|${r.window}`, r.changes]));
    expect(counts.get('5m|sku|2026-03-05 08:00')).toBe('1');
    expect(counts.get('5m|sku|2026-03-05 09:00')).toBe('2');
    expect(counts.get('day|store|2026-03-05 00:00')).toBe('2');
    // A window carries its slot's count as of the batch that last wrote it: the second batch's (C's, and the store's,
    // category's, terminal's and tender's at 09:00 and in the day) the count it raised; A's and B's the first's.
    const windows = (await stamps()).rows;
    for (const w of windows) {
      const second = !['A', 'B'].includes(w.member) && (w.window === '2026-03-05 09:00' || w.granularity === 'day');
      expect(w.slot_change, `${w.granularity}/${w.dimension}/${w.member}/${w.window}`).toBe(second ? counts.get(`${w.granularity}|${w.dimension}|${w.window}`) : '1');
    }
    expect(windows.filter((w) => w.slot_change === '2')).toHaveLength(15); // 5 windows in each of 09:00's 5-minute and hourly slots and the day
    expect(windows.filter((w) => w.dimension === 'sku' && w.granularity === '5m').map((w) => [w.member, w.window, w.net])).toEqual([
      ['A', '2026-03-05 08:00', '10'],
      ['A', '2026-03-05 09:00', '5'],
      ['B', '2026-03-05 08:00', '20'],
      ['C', '2026-03-05 09:00', '7'],
    ]);

    const before = { slots: (await slots()).rows, windows: (await stamps()).rows };
    const sums = sumWindows([sale('2026-03-05T10:00:00Z', 'D', 1), sale('2026-03-05T10:00:00Z', 'E', 1)], 'UTC');
    await expect(book([...sums].reverse())).rejects.toThrow(/key order/);
    const swapped = [...sums];
    const i = swapped.findIndex((s, n) => n > 0 && s.granularity === swapped[n - 1]!.granularity && s.dimension === swapped[n - 1]!.dimension && s.window === swapped[n - 1]!.window);
    [swapped[i - 1], swapped[i]] = [swapped[i]!, swapped[i - 1]!];
    await expect(book(swapped)).rejects.toThrow(/key order/);
    expect({ slots: (await slots()).rows, windows: (await stamps()).rows }).toEqual(before);
    await pool.end();
  });

  it('inserts the windows of a slot it creates and adds to those of a listed one; a slot published before slots were kept gets its row back', async () => {
    const db = await testDatabase({ target: 'empty' });
    await migrate({ databaseUrl: db.url, target: 'store', logger: testLogger(), before: SLOT_ROWS_MIGRATION });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'outbox-test', max: 2 });
    const outbox = aggregatesOutbox(pool, { storeId: 'S001', timeZone: 'UTC' }, {});
    const book = (contributions: Contribution[]) => bookWindows(pool, sumWindows(contributions, 'UTC'));
    const skuHour = () =>
      pool.query<{ member: string; net: string; revision: number; slot_change: string }>(
        `SELECT member, net, revision, slot_change FROM sales_aggregates WHERE granularity = '1h' AND dimension = 'sku' AND window_start = '2026-03-05 08:00' ORDER BY member`,
      );
    await book([sale('2026-03-05T08:00:00Z', 'A', 10), sale('2026-03-05T08:10:00Z', 'B', 20)]);
    await outbox.acknowledge(await outbox.read(1000));
    // As the publisher did before 20261202010000000: a slot whose windows were all published lost its row.
    await pool.query(`DELETE FROM sales_aggregate_changes WHERE granularity = '1h' AND dimension = 'sku'`);

    await migrate({ databaseUrl: db.url, target: 'store', logger: testLogger() });
    const { rows: back } = await pool.query(`SELECT changes, published_changes FROM sales_aggregate_changes WHERE granularity = '1h' AND dimension = 'sku'`);
    expect(back).toEqual([{ changes: '1', published_changes: '1' }]);
    expect(await outbox.backlog()).toBe(0);

    // A late sale of A (an existing window) and the first of C (a new one) in that listed slot: added to, and inserted.
    await book([sale('2026-03-05T08:20:00Z', 'A', 5), sale('2026-03-05T08:30:00Z', 'C', 7)]);
    expect((await skuHour()).rows).toEqual([
      { member: 'A', net: '15', revision: 2, slot_change: '2' },
      { member: 'B', net: '20', revision: 1, slot_change: '1' },
      { member: 'C', net: '7', revision: 1, slot_change: '2' },
    ]);
    // What goes out for that slot: A and C, not B again.
    const restated = (await outbox.read(1000)).map((i) => dataOf(i) as SalesAggregate).filter((a) => a.granularity === '1h' && a.dimension === 'sku');
    expect(restated.map((a) => [a.member, a.figures.net, a.revision])).toEqual([
      ['A', 15, 2],
      ['C', 7, 1],
    ]);
    await pool.end();
  });
});
