import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PosTransactionV1, buildManifest, type DayManifest, type PosTransaction } from '@tillstream/contracts';
import { testDatabase, testEnv, testKafka, testLogger, makeTransaction, seededRandom, type TestDatabase } from '@tillstream/testing';
import { Reconciler, hqManifest, receiveManifest } from './reconcile.ts';
import { writeTransactions } from './views.ts';

const DAY_MS = 86_400_000;
const dayAgo = (n: number) => new Date(Date.now() - n * DAY_MS).toISOString().slice(0, 10);

/** A store day on three terminals: duplicated sequence numbers, gaps, returns, training, no-sales, split tenders with change. */
function storeDay(storeId: string, businessDay: string, seed: number): PosTransaction[] {
  const random = seededRandom(seed);
  const txs: PosTransaction[] = [];
  for (const terminalId of ['T01', 'T02', 'T10']) {
    for (let seq = 1; seq <= 40; seq++) {
      if (random() < 0.15) continue; // a gap
      const roll = random();
      const type = roll < 0.7 ? 'SALE' : roll < 0.85 ? 'RETURN' : roll < 0.95 ? 'NO_SALE' : 'POST_VOID';
      const tx = makeTransaction([{ sku: 'A', unitPrice: 100 + Math.floor(random() * 900) }], {
        storeId,
        terminalId,
        sequenceNumber: seq,
        businessDay,
        occurredAt: `${businessDay}T10:00:00.000Z`,
        type,
        trainingMode: random() < 0.05,
        ...(type === 'RETURN' || type === 'POST_VOID' ? { original: { transactionId: randomUUID(), terminalId } } : {}),
      });
      const split = tx.tenders?.length === 1 && random() < 0.3 ? [{ type: 'VOUCHER' as const, amount: tx.totals.grand - 50, change: 0 }, { type: 'CASH' as const, amount: 100, change: 50 }] : tx.tenders;
      txs.push(PosTransactionV1.parse({ ...tx, tenders: split }));
      if (random() < 0.03) txs.push(PosTransactionV1.parse(makeTransaction([{ sku: 'B' }], { storeId, terminalId, sequenceNumber: seq, businessDay, occurredAt: `${businessDay}T11:00:00.000Z` })));
    }
  }
  return txs;
}

async function verifications(db: TestDatabase): Promise<Map<string, number>> {
  const { rows } = await db.pool.query<{ day: string; n: number }>(
    "SELECT store_id || ' ' || to_char(business_day, 'YYYY-MM-DD') AS day, count(*)::int AS n FROM hq_verifications GROUP BY 1",
  );
  return new Map(rows.map((r) => [r.day, r.n]));
}

describe('HQ reconciliation', () => {
  it("computes HQ's manifest in SQL exactly as buildManifest does over the same transactions", async () => {
    const db = await testDatabase({ target: 'hq' });
    for (const [i, day] of [dayAgo(1), dayAgo(2)].entries()) {
      const txs = storeDay('S001', day, 20261201 + i);
      await writeTransactions(db.pool, txs);
      const expected: DayManifest = buildManifest('S001', day, txs.map((t) => ({ ...t, tenders: t.tenders })));
      expect(await hqManifest(db.pool, 'S001', day)).toEqual(expected);
    }
    expect(await hqManifest(db.pool, 'S001', dayAgo(30))).toEqual(buildManifest('S001', dayAgo(30), []));
  });

  it('two reconcilers claim distinct manifests: each day verified once per change, recent days again after a while, older ones only by the slow sweep', async () => {
    const db = await testDatabase({ target: 'hq' });
    const kafka = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
    const days = [dayAgo(0), dayAgo(1), dayAgo(20)];
    const stores = Array.from({ length: 8 }, (_, i) => `S${String(i + 1).padStart(3, '0')}`);
    const manifests: DayManifest[] = [];
    for (const [s, storeId] of stores.entries()) {
      for (const [d, day] of days.entries()) {
        const txs = storeDay(storeId, day, 100 * s + d);
        await writeTransactions(db.pool, txs);
        const manifest = buildManifest(storeId, day, txs);
        manifests.push(manifest);
        await receiveManifest(db.pool, manifest);
      }
    }
    const reconciler = (verifier: string, reverifyAfterMs: number) =>
      new Reconciler({
        pool: db.pool,
        kafka: kafka.kafka,
        logger: testLogger('reconciler'),
        topicPrefix: kafka.prefix,
        transactionsGroup: `${kafka.prefix}hq-views.hq.transactions.v1`,
        intervalMs: 1000,
        reverifyAfterMs,
        recentDays: 7,
        reverifyOldAfterMs: 7 * DAY_MS,
        batch: 500,
        verifier,
      });
    const a = reconciler('a', 3_600_000);
    const b = reconciler('b', 3_600_000);
    // Both at once, twice: every day verified exactly once, by one or the other, all complete.
    await Promise.all([a.round(), b.round()]);
    await Promise.all([a.round(), b.round()]);
    const once = await verifications(db);
    expect(once.size).toBe(manifests.length);
    expect([...once.values()].every((n) => n === 1)).toBe(true);
    const { rows: statuses } = await db.pool.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM hq_manifests GROUP BY status');
    expect(statuses).toEqual([{ status: 'complete', n: manifests.length }]);

    // A changed manifest (one more sale on S003's day 1): that day alone is verified again, and HQ asks for the sale.
    const changed = manifests[2 * days.length + 1]!;
    const t01 = changed.terminals[0]!;
    await receiveManifest(db.pool, { ...changed, transactions: changed.transactions + 1, terminals: [{ ...t01, last: t01.last + 1, count: t01.count + 1 }, ...changed.terminals.slice(1)] });
    await Promise.all([a.round(), b.round()]);
    const twice = await verifications(db);
    expect([...twice.entries()].filter(([, n]) => n !== 1)).toEqual([[`S003 ${days[1]}`, 2]]);
    const { rows: replay } = await db.pool.query('SELECT terminal_id, from_seq, to_seq FROM hq_replay_requests');
    expect(replay).toEqual([{ terminal_id: t01.terminalId, from_seq: String(t01.last + 1), to_seq: String(t01.last + 1) }]);

    // Verified long enough ago: recent days (today, yesterday) are verified again, the 20-day-old ones are not (the sweep is weekly).
    await db.pool.query("UPDATE hq_manifests SET verified_at = now() - interval '2 hours'");
    const c = reconciler('c', 3_600_000);
    const d = reconciler('d', 3_600_000);
    await Promise.all([c.round(), d.round()]);
    const after = await verifications(db);
    for (const m of manifests) {
      const key = `${m.storeId} ${m.businessDay}`;
      expect(after.get(key)! - twice.get(key)!, key).toBe(m.businessDay === days[2] ? 0 : 1);
    }
    // The slow sweep: older days verified 8 days ago are verified again.
    await db.pool.query("UPDATE hq_manifests SET verified_at = now() - interval '8 days' WHERE business_day = $1", [days[2]]);
    await Promise.all([c.round(), d.round()]);
    const swept = await verifications(db);
    for (const m of manifests) {
      const key = `${m.storeId} ${m.businessDay}`;
      expect(swept.get(key)! - after.get(key)!, key).toBe(m.businessDay === days[2] ? 1 : 0);
    }

    // Never two verifications of one day at once: each ran inside the row lock it claimed.
    const { rows: overlaps } = await db.pool.query(
      `SELECT a.store_id, a.business_day FROM hq_verifications a JOIN hq_verifications b
         ON a.store_id = b.store_id AND a.business_day = b.business_day AND a.verification_id < b.verification_id
        AND a.started_at < b.ended_at AND b.started_at < a.ended_at`,
    );
    expect(overlaps).toEqual([]);
  });
});
