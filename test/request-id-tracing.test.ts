import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HEADER } from '@tillstream/kafka';
import { makeTransaction, readTopic, waitFor } from '@tillstream/testing';
import { startChain, type Chain } from './chain.ts';

/**
 * One id follows a sale from the terminal to HQ's views: the id a till sends
 * as X-Request-Id (or the one ingest gives a request without a usable one) is
 * echoed, written on the POS record's headers, named by every service's log
 * lines about the sale (ingest, inventory, trends, sync, HQ), uploaded with
 * the transaction and kept in HQ's hq_transactions row; sync's uploads are
 * named in HQ's request lines by their batch ids.
 */

type Service = keyof Chain['logs'];

/** The JSON log lines of a service that name this request id. */
function linesOf(chain: Chain, service: Service, requestId: string): Array<Record<string, unknown>> {
  return chain.logs[service].map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.requestId === requestId);
}

describe('request id tracing, terminal to HQ', () => {
  it("carries each request's id on the POS record, into every service's log lines, through the upload and into HQ's transaction row", async () => {
    const chain = await startChain();
    const post = (path: string, body: unknown, requestId?: string) =>
      fetch(`${chain.ingest.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${chain.ingest.token}`, ...(requestId ? { 'x-request-id': requestId } : {}) },
        body: JSON.stringify(body),
      });

    // A sale named by the till; one without a usable id (ingest names it); two in one batch (one request, one id).
    const named = makeTransaction([{ sku: 'BREAD', quantity: 1, unitPrice: 250 }], { sequenceNumber: 1 });
    const unnamed = makeTransaction([{ sku: 'ROLL', quantity: 2, unitPrice: 80 }], { sequenceNumber: 2 });
    const batched = [3, 4].map((sequenceNumber) => makeTransaction([{ sku: 'CAKE', quantity: 1, unitPrice: 900 }], { sequenceNumber }));
    const namedId = `till-T01.${randomUUID()}`;
    const batchId = `till-T01.batch.${randomUUID()}`;

    const first = await post('/v1/transactions', named, namedId);
    expect(first.status).toBe(201);
    expect(first.headers.get('x-request-id')).toBe(namedId);
    const second = await post('/v1/transactions', unnamed, 'not a token');
    expect(second.status).toBe(201);
    const generatedId = second.headers.get('x-request-id')!;
    expect(generatedId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const third = await post('/v1/transactions/batch', { transactions: batched }, batchId);
    expect(third.status).toBe(200);
    expect(((await third.json()) as { summary: { created: number } }).summary.created).toBe(2);
    expect(third.headers.get('x-request-id')).toBe(batchId);

    const expected = new Map<string, string>([
      [named.transactionId, namedId],
      [unnamed.transactionId, generatedId],
      [batched[0]!.transactionId, batchId],
      [batched[1]!.transactionId, batchId],
    ]);
    const sorted = (pairs: Iterable<[string, string | null | undefined]>) => [...pairs].sort(([a], [b]) => a.localeCompare(b));

    // The POS records carry the id of the request that brought each in.
    const pos = await readTopic(chain.kafka.kafka, chain.ingest.topic);
    expect(sorted(pos.map((r) => [r.envelope.data.transactionId, r.headers[HEADER.requestId]]))).toEqual(sorted(expected));

    // HQ's view holds every one with its id, as sync uploaded it (and HQ's topic carries it in a header).
    const ids = [...expected.keys()];
    const atHq = await waitFor(
      async () => {
        const { rows } = await chain.hqDb.pool.query<{ transaction_id: string; request_id: string | null }>(
          "SELECT transaction_id::text, request_id FROM hq_transactions WHERE store_id = 'S001' AND transaction_id = ANY($1::uuid[])",
          [ids],
        );
        return rows.length === ids.length && rows;
      },
      { timeoutMs: 120_000, message: "HQ's view to hold the four sales" },
    );
    expect(sorted(atHq.map((r) => [r.transaction_id, r.request_id]))).toEqual(sorted(expected));
    const { rows: outbox } = await chain.db.pool.query<{ record_key: string; request_id: string | null }>("SELECT record_key, request_id FROM sync_outbox WHERE stream = 'transaction'");
    expect(sorted(outbox.map((r) => [r.record_key, r.request_id]))).toEqual(sorted(expected));
    const hqTopic = await readTopic(chain.hqKafka.kafka, `${chain.hqKafka.prefix}hq.transactions.v1`);
    expect(sorted(hqTopic.map((r) => [r.envelope.data.transactionId, r.headers[HEADER.requestId]]))).toEqual(sorted(expected));

    // Ingest names each request in the line of its answer.
    for (const [id, status] of [[namedId, 201], [generatedId, 201], [batchId, 200]] as const) {
      expect(linesOf(chain, 'ingest', id)).toContainEqual(expect.objectContaining({ msg: 'request completed', res: { statusCode: status } }));
    }
    // Every consumer on the way logs each transaction it booked with its request id (the lines follow each commit: waited for).
    for (const service of ['inventory', 'trends', 'sync', 'hq'] as const) {
      for (const [transactionId, requestId] of expected) {
        await waitFor(() => linesOf(chain, service, requestId).some((l) => l.transactionId === transactionId && l.msg === 'record booked'), {
          timeoutMs: 30_000,
          message: `${service} to log booking ${transactionId} under request ${requestId}`,
        });
      }
    }
    // Sync's uploads are named by their batch ids in HQ's request lines.
    const { rows: batches } = await chain.db.pool.query<{ batch_id: string }>('SELECT batch_id FROM sync_batches WHERE acked_at IS NOT NULL');
    expect(batches.length).toBeGreaterThan(0);
    for (const { batch_id: id } of batches) {
      await waitFor(() => linesOf(chain, 'hq', id).some((l) => l.msg === 'request completed' && l.method === 'POST'), { timeoutMs: 10_000, message: `HQ to name upload ${id}` });
    }
    // The id a till sent that was not a safe token is in no log line.
    for (const service of Object.keys(chain.logs) as Service[]) expect(chain.logs[service].join('')).not.toContain('not a token');
  }, 240_000);
});
