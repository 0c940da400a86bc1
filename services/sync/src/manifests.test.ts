import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PosTransactionV1, type PosTransaction } from '@tillstream/contracts';
import { journalEntry, recordTransactions, saveConsumerOffset, withTransaction } from '@tillstream/db';
import { makeTransaction, testDatabase } from '@tillstream/testing';
import { dueManifestDays, storeManifest } from './manifests.ts';
import { appendOutbox } from './outbox.ts';

const DAY = '2026-11-20';
const POS = { groupId: 'S001.sync.pos.transactions.v1', topic: 'S001.pos.transactions.v1' };

describe('the day manifest', () => {
  it("is built from ingest's journal, so a sale acknowledged but never booked by sync is in it; it is due once sync's consumer has read past the day", async () => {
    // The manifest was built from sync's own outbox: a sale sync dead-lettered was missing from the store's manifest and from HQ alike, and HQ said "complete".
    const db = await testDatabase({ target: 'store' });
    const sales: PosTransaction[] = [1, 2, 3].map((seq) =>
      PosTransactionV1.parse(makeTransaction([{ sku: 'SKU-1', unitPrice: 100 * seq }], { sequenceNumber: seq, businessDay: DAY, occurredAt: `${DAY}T10:00:0${seq}Z` })),
    );
    await recordTransactions(
      db.pool,
      sales.map((tx, i) => journalEntry(tx, { bodyHash: createHash('sha256').update(tx.transactionId).digest(), receivedAt: new Date(), partition: 0, offset: String(i) })),
    );
    // Sync booked the first and the third; the second went to its dead-letter topic.
    await withTransaction(db.pool, (c) => appendOutbox.transactions(c, [sales[0]!, sales[2]!]));

    const manifest = await storeManifest(db.pool, 'S001', DAY);
    expect(manifest.transactions).toBe(3);
    expect(manifest.terminals).toEqual([{ terminalId: 'T01', first: 1, last: 3, count: 3, gaps: [] }]);
    expect(manifest.tenders).toEqual({ CASH: 100 + 200 + 300 });

    const due = () => dueManifestDays(db.pool, { storeId: 'S001', posConsumer: POS, ackedThrough: '1000', days: 7, refreshMs: 60_000 });
    // Sync's consumer is not past the day's journal yet: no manifest (it would only report what is in flight as missing).
    await saveConsumerOffset(db.pool, { ...POS, partition: 0, nextOffset: '2' });
    expect(await due()).toEqual([]);
    await saveConsumerOffset(db.pool, { ...POS, partition: 0, nextOffset: '3' });
    expect(await due()).toEqual([DAY]);
  });
});
