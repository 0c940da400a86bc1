import { describe, expect, it, onTestFinished } from 'vitest';
import { posTransactions } from '@tillstream/contracts';
import { issueTerminalToken } from '@tillstream/db';
import { ingestEnv, startIngest } from '@tillstream/ingest';
import { bearer, kafkaServiceEnv, makeTransaction, tcpProxy, testDatabase, testEnv, testKafka, testLogger, testTlsEnv, testTokens, waitFor } from '@tillstream/testing';

/**
 * Fault injection: the store database goes away while the broker stays.
 * Ingest keeps capturing for terminals it already knows (the broker is the
 * truth; the idempotency journal catches up when the database returns), says
 * not-ready, and answers 503 where it cannot decide; nothing acknowledged is
 * lost and replays stay replays.
 */
describe('ingest while the store database is down', () => {
  it('keeps capturing, then records the journal once the database is back, so replays still replay', async () => {
    const db = await testDatabase({ target: 'store' });
    const kafka = await testKafka({ specs: [posTransactions] });
    const token = await issueTerminalToken(db.pool, { storeId: 'S001', terminalId: 'T01' });
    const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(testEnv.POSTGRES_URL).port) });
    const viaProxy = new URL(db.urlFor('ingest'));
    viaProxy.port = String(proxy.port);
    const env = ingestEnv.parse({
      ...testTlsEnv(),
      STORE_ID: 'S001',
      TOPIC_PREFIX: kafka.prefix,
      ...kafkaServiceEnv('ingest'),
      DATABASE_URL: viaProxy.toString(),
      PORT: '0',
      TOKEN_CACHE_MS: '600000',
    });
    let ingest = await startIngest(env, { logger: testLogger('ingest') });
    onTestFinished(() => ingest.stop());
    const journalHas = async (id: string) => (await db.pool.query('SELECT 1 FROM ingest_transactions WHERE transaction_id = $1', [id])).rowCount === 1;
    const post = (tx: unknown) =>
      fetch(`${ingest.url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(tx) });

    const before = makeTransaction();
    expect((await post(before)).status).toBe(201);
    await waitFor(() => journalHas(before.transactionId), { message: 'the journal to record the first transaction' });

    // A store viewer reads /readyz; its token is looked up (and cached) before the cut.
    const viewer = { headers: bearer((await testTokens(db.pool, 'store'))['store-viewer']) };
    expect((await fetch(`${ingest.url}/readyz`, viewer)).status).toBe(200);
    await proxy.cut();
    const during = makeTransaction();
    const captured = await post(during);
    expect(captured.status).toBe(201);
    const receipt = await captured.json();
    const replay = await post(during);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual(receipt);
    // A replay of a transaction only the database knows cannot be decided now: 503, not a second copy.
    const undecidable = await post(before);
    expect(undecidable.status).toBe(503);
    expect(((await undecidable.json()) as { code: string }).code).toBe('DATABASE_UNAVAILABLE');
    const ready = await fetch(`${ingest.url}/readyz`, viewer);
    expect(ready.status).toBe(503);

    await proxy.restore();
    await waitFor(() => journalHas(during.transactionId), { timeoutMs: 20_000, message: 'the journal to catch up' });
    await ingest.stop();
    ingest = await startIngest(env, { logger: testLogger('ingest') });
    const afterRestart = await post(during);
    expect(afterRestart.status).toBe(200);
    expect(await afterRestart.json()).toEqual(receipt);
    expect((await post(before)).status).toBe(200);
  }, 90_000);
});
