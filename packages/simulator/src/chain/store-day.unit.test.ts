import { describe, expect, it } from 'vitest';
import { SyncBatchV1, type SalesAggregate, type SyncRecord } from '@tillstream/contracts';
import { COALESCED, DEFAULT_SHAPE, TODAY, todayRecords, windowsPerSale, type TrafficProfile } from './profile.ts';
import { StoreDay, type OutboxBatch } from './store-day.ts';

const shape = { ...DEFAULT_SHAPE, transactions: 300 };

function playDay(profile: TrafficProfile, extra: { playedHours?: number; seed?: number } = {}) {
  const day = new StoreDay({ storeId: 'C0001', businessDay: '2026-11-28', shape, profile, ...extra });
  const batches: OutboxBatch[] = [];
  // In steps, as the simulator advances it: the result must not depend on the step.
  for (let t = 0; !day.closed; t += 7 * 60_000) batches.push(...day.advance(t));
  return { day, batches, records: batches.flatMap((b) => b.records) };
}

const ofStream = <S extends SyncRecord['stream']>(records: SyncRecord[], stream: S) => records.filter((r): r is Extract<SyncRecord, { stream: S }> => r.stream === stream);

describe('a simulated store-day', () => {
  it("uploads, under 'today', each sale, a revision of each of its windows in every granularity and a level per line: the model's formula", () => {
    const { day, batches, records } = playDay(TODAY);
    expect(day.counts.transactions).toBe(shape.transactions);
    expect(windowsPerSale(shape)).toBe(9); // 27 windows per sale over three granularities, as issue 17 counts
    expect(day.counts.aggregates).toBe(shape.transactions * 3 * windowsPerSale(shape));
    expect(day.counts.levels).toBe(shape.transactions * shape.linesPerSale);
    expect(records).toHaveLength(todayRecords(shape, shape.transactions, day.counts.alerts));
    expect(day.counts.records).toBe(records.length);
    expect(day.counts.batches).toBe(batches.length);
    // Batches of at most 30 records (a flush cuts what is pending earlier), 10-30 on average.
    expect(batches.every((b) => b.records.length <= TODAY.batchMaxRecords)).toBe(true);
    expect(records.length / batches.length).toBeGreaterThanOrEqual(TODAY.batchMinRecords);
  });

  it('cuts batches sync would: consecutive outbox ids in the batch id, bodies HQ accepts', () => {
    const { batches } = playDay(TODAY);
    let next = 1;
    for (const b of batches) {
      expect(b.batchId).toBe(`C0001-${next}-${next + b.records.length - 1}`);
      next += b.records.length;
    }
    for (const b of batches.slice(0, 50)) expect(() => SyncBatchV1.parse({ batchId: b.batchId, records: b.records, backlog: { records: 0, oldestAt: null } })).not.toThrow();
  });

  it("uploads, coalesced over the whole day, each window and each SKU's level once, at its last revision", () => {
    const { day, records } = playDay({ ...COALESCED, granularities: ['day', '1h', '5m'], dimensions: undefined, coalesceSeconds: 86_400 });
    const txs = ofStream(records, 'transaction').map((r) => r.data);
    expect(txs).toHaveLength(shape.transactions);
    const distinct = (values: string[]) => new Set(values).size;
    const dayWindows =
      1 +
      distinct(txs.map((t) => t.terminalId)) +
      distinct(txs.flatMap((t) => t.tenders.map((x) => x.type))) +
      distinct(txs.flatMap((t) => t.lines.map((l) => l.sku))) +
      distinct(txs.flatMap((t) => t.lines.map((l) => l.category)));
    const aggregates = ofStream(records, 'aggregate').map((r) => r.data);
    expect(aggregates.filter((a) => a.granularity === 'day')).toHaveLength(dayWindows);
    expect(aggregates).toHaveLength(day.counts.windows);
    expect(ofStream(records, 'level')).toHaveLength(distinct(txs.flatMap((t) => t.lines.map((l) => l.sku))));
    const store = aggregates.find((a) => a.granularity === 'day' && a.dimension === 'store')!;
    expect(store.revision).toBe(shape.transactions);
    expect(store.figures.net).toBe(txs.reduce((n, t) => n + t.totals.net, 0));
  });

  it("uploads, under 'coalesced', fewer records than 'today' for the same trading, and every window's revisions in increasing order ending at the day's figures", () => {
    const today = playDay(TODAY).day.counts;
    const { day, records } = playDay(COALESCED);
    expect(day.counts.transactions).toBe(today.transactions);
    expect(day.counts.alerts).toBe(today.alerts);
    expect(day.counts.records).toBeLessThan(today.records);
    const aggregates = ofStream(records, 'aggregate').map((r) => r.data);
    // Only what HQ declares it reads: day windows by store, SKU and category.
    expect(aggregates.every((a) => COALESCED.granularities.includes(a.granularity) && COALESCED.dimensions!.includes(a.dimension))).toBe(true);
    expect(new Set(aggregates.map((a) => a.dimension))).toEqual(new Set(COALESCED.dimensions));
    const last = new Map<string, SalesAggregate>();
    for (const a of aggregates) {
      const key = `${a.granularity}|${a.windowStart}|${a.dimension}|${a.member}`;
      expect(a.revision).toBeGreaterThan(last.get(key)?.revision ?? 0);
      last.set(key, a);
    }
    expect([...last.values()].find((a) => a.dimension === 'store')!.figures.net).toBe(day.netTotal);
  });

  it('closes after the hours played, and its manifest lists every transaction it uploaded', () => {
    const { day, records } = playDay(TODAY, { playedHours: 2 });
    const txs = ofStream(records, 'transaction');
    expect(txs.length).toBeGreaterThan(0);
    expect(txs.length).toBeLessThan(shape.transactions / 3);
    const manifest = day.manifest();
    expect(manifest.transactions).toBe(txs.length);
    expect(manifest.terminals.every((t) => t.gaps.length === 0 && t.count === t.last - t.first + 1)).toBe(true);
    expect(Object.values(manifest.tenders).reduce((a, b) => a + b, 0)).toBe(day.netTotal);
  });

  it('trades the same day again from the same seed', () => {
    const a = playDay(COALESCED, { seed: 7 }).day.counts;
    const b = playDay(COALESCED, { seed: 7 }).day.counts;
    expect({ ...a, bytes: 0 }).toEqual({ ...b, bytes: 0 });
  });
});
