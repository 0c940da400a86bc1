import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { storeTopics, type IngestBatchResponse } from '@tillstream/contracts';
import { issueTerminalToken } from '@tillstream/db';
import {
  freePort,
  bearer,
  kafkaServiceEnv,
  killProcess,
  makeTransaction,
  readTopic,
  startProcess,
  stopProcess,
  tcpProxy,
  testDatabase,
  testKafka,
  testTokens,
  waitFor,
} from '@tillstream/testing';

const BATCH = 60;

/**
 * Regression: ingest answered a batch 2xx (the broker had it) and was
 * killed before it wrote those receipts to its journal; the same batch re-sent
 * after the restart was captured again, as new 201s at new offsets, and the
 * topic held a second copy. The kill lands in that window deterministically:
 * the journal's PostgreSQL connection goes through a TCP proxy that holds
 * every byte, so the journal write cannot complete before the SIGKILL.
 */
describe('ingest killed between answering and writing its journal', () => {
  it('answers a re-sent batch with the original receipts after the restart, and the topic holds one copy of each', async () => {
    const db = await testDatabase({ target: 'store' });
    const kafka = await testKafka({ specs: storeTopics });
    const token = await issueTerminalToken(db.pool, { storeId: 'S001', terminalId: 'T01' });
    const server = new URL(db.url);
    const proxy = await tcpProxy({ host: server.hostname, port: Number(server.port) });
    const proxied = new URL(db.urlFor('ingest'));
    proxied.port = String(proxy.port);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logFile = join(mkdtempSync(join(tmpdir(), 'tillstream-ingest-kill-')), 'ingest.log');
    const env = {
      STORE_ID: 'S001',
      TOPIC_PREFIX: kafka.prefix,
      ...kafkaServiceEnv('ingest'),
      DATABASE_URL: proxied.toString(),
      PORT: String(port),
      LOG_LEVEL: 'info',
      // The token is looked up once, before the hold; the batch itself then needs no database before its answer.
      TOKEN_CACHE_MS: '600000',
    };
    const readyHeaders = bearer((await testTokens(db.pool, 'store'))['store-viewer']);
    let child: ChildProcess | undefined = await startProcess('services/ingest/src/main.ts', env, `${url}/readyz`, { logFile, readyHeaders });
    onTestFinished(async () => {
      if (child) await stopProcess(child);
    });

    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    // A sale before the hold: recorded in the journal normally (the recovery must start after it, not replay it).
    const first = makeTransaction([{ sku: 'SKU-0' }], { terminalId: 'T01' });
    expect((await post('/v1/transactions', first)).status).toBe(201);
    await waitFor(async () => (await db.pool.query('SELECT 1 FROM ingest_transactions WHERE transaction_id = $1', [first.transactionId])).rowCount === 1, {
      timeoutMs: 10_000,
      message: 'the first sale in the journal',
    });

    // Descriptions with what JSON escapes or spells in several ways: the recovered body hash must equal capture's.
    const batch = Array.from({ length: BATCH }, (_, i) => {
      const tx = makeTransaction([{ sku: `SKU-${i % 5}`, quantity: 1 + (i % 3) }], { terminalId: 'T01' });
      tx.lines![0]!.description = `Crème brûlée №${i} "fresh" \\ ☕ 🍞 \u2028 é`;
      return tx;
    });
    proxy.hold();
    const answered = await post('/v1/transactions/batch', { transactions: batch });
    expect(answered.status).toBe(200);
    const original = (await answered.json()) as IngestBatchResponse;
    expect(original.results.map((r) => r.status)).toEqual(batch.map(() => 201));
    await killProcess(child);
    child = undefined;
    await proxy.cut(); // the held journal write dies with its connection
    await proxy.restore();

    child = await startProcess('services/ingest/src/main.ts', env, `${url}/readyz`, { logFile, readyHeaders });
    const again = await post('/v1/transactions/batch', { transactions: batch });
    expect(again.status).toBe(200);
    const replayed = (await again.json()) as IngestBatchResponse;
    const receipt = (r: IngestBatchResponse['results'][number]) => ('receipt' in r && r.receipt ? { partition: r.receipt.partition, offset: r.receipt.offset, receivedAt: r.receipt.receivedAt } : r);
    expect(replayed.results.map((r) => r.status)).toEqual(batch.map(() => 200));
    expect(replayed.results.map(receipt)).toEqual(original.results.map(receipt));
    // The single sale from before the hold is a replay too, with its receipt from the journal.
    expect((await post('/v1/transactions', first)).status).toBe(200);

    const records = await readTopic(kafka.kafka, `${kafka.prefix}pos.transactions.v1`);
    const copies = new Map<string, number>();
    for (const r of records) copies.set(r.envelope.data.transactionId, (copies.get(r.envelope.data.transactionId) ?? 0) + 1);
    expect(records).toHaveLength(BATCH + 1);
    expect([...copies.values()].every((n) => n === 1)).toBe(true);
  }, 180_000);
});
