import { describe, expect, it } from 'vitest';
import type { IngestBatchResponse } from '@tillstream/contracts';
import { makeTransaction, readTopic } from '@tillstream/testing';
import { testIngest } from './testing.ts';

const receipts = (body: IngestBatchResponse) => body.results.map((r) => ('receipt' in r ? r.receipt : r.status));

/**
 * Regression: the journal is written after the answer (and without a WAL
 * flush per commit), so receipts the broker holds can be missing from it
 * after a restart; a re-sent transaction was then captured a second time.
 */
describe("restart recovery from the broker's log", () => {
  it('recovers receipts the journal lost entirely (read from the retention start) and those past its last offset', async () => {
    const ingest = await testIngest();
    const send = async (txs: unknown[]) => (await (await ingest.post('/v1/transactions/batch', { transactions: txs })).json()) as IngestBatchResponse;
    const first = Array.from({ length: 20 }, () => makeTransaction([{ sku: 'A' }]));
    const second = Array.from({ length: 20 }, () => makeTransaction([{ sku: 'B' }]));

    // The journal loses everything (a partition it has no row of: read from the retention's start).
    const created = await send(first);
    await ingest.restart(); // a clean stop writes the journal
    await ingest.db.pool.query('DELETE FROM ingest_transactions');
    await ingest.restart();
    expect(receipts(await send(first))).toEqual(receipts(created));
    expect((await send(first)).summary).toEqual({ created: 0, replayed: 20, failed: 0 });

    // The journal loses its newest rows only (read from its highest offset on).
    const created2 = await send(second);
    await ingest.restart();
    await ingest.db.pool.query('DELETE FROM ingest_transactions WHERE transaction_id = ANY($1::uuid[])', [second.map((t) => t.transactionId)]);
    await ingest.restart();
    const replayed2 = await send(second);
    expect(replayed2.summary).toEqual({ created: 0, replayed: 20, failed: 0 });
    expect(receipts(replayed2)).toEqual(receipts(created2));

    expect(await readTopic(ingest.kafka.kafka, ingest.topic)).toHaveLength(40);
  });
});
