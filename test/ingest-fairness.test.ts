import { describe, expect, it, onTestFinished } from 'vitest';
import { storeTopics, type IngestBatchResponse } from '@tillstream/contracts';
import { issueTerminalToken } from '@tillstream/db';
import { ingestEnv, startIngest } from '@tillstream/ingest';
import { bearer, kafkaServiceEnv, makeTransaction, readTopic, tcpProxy, testDatabase, testEnv, testKafka, testLogger, testTlsEnv, testTokens, waitFor } from '@tillstream/testing';

const SELLERS = 5;
const SALES_EACH = 30;
const FLOOD_REQUESTS = 30;
const FLOOD_CONNECTIONS = 10;
const BATCH = 500;

async function store(terminals: number, overrides: Record<string, string> = {}, options: { databaseUrl?: (url: string) => string; clock?: () => number } = {}) {
  const db = await testDatabase({ target: 'store' });
  const kafka = await testKafka({ specs: storeTopics });
  const tokens = await Promise.all(Array.from({ length: terminals }, (_, i) => issueTerminalToken(db.pool, { storeId: 'S001', terminalId: `T${i + 1}` })));
  const ingest = await startIngest(
    ingestEnv.parse({
      ...testTlsEnv(),
      STORE_ID: 'S001',
      TOPIC_PREFIX: kafka.prefix,
      ...kafkaServiceEnv('ingest'),
      DATABASE_URL: options.databaseUrl?.(db.urlFor('ingest')) ?? db.urlFor('ingest'),
      PORT: '0',
      ...overrides,
    }),
    { logger: testLogger('ingest'), ...(options.clock ? { clock: options.clock } : {}) },
  );
  onTestFinished(() => ingest.stop());
  const post = (terminal: number, path: string, body: unknown) =>
    fetch(`${ingest.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[terminal]}` },
      body: JSON.stringify(body),
    });
  // A store viewer reads /metrics.
  const viewer = { headers: bearer((await testTokens(db.pool, 'store'))['store-viewer']) };
  return { db, kafka, ingest, post, viewer };
}

const count = (statuses: number[]) => statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

/**
 * Regression: one terminal's token could starve the store. The rate limit
 * counted requests only (40 batch requests at once are 20,000 transactions),
 * so a till flooding its backlog took the store's whole in-flight capacity
 * and the other tills got 503s. Now each terminal has budgets in requests,
 * transactions and bytes, and a share of the in-flight capacity.
 */
describe('one terminal flooding ingest while five others sell', () => {
  it('refuses the flooder with 429 past its budget and answers every sale of the five 201', async () => {
    // A clock that never moves: budgets never refill during the test, so the counts are exact.
    const { kafka, post } = await store(SELLERS + 1, {}, { clock: () => 0 });
    const flooder = SELLERS; // index of T6
    let sent = 0;
    const flood = await Promise.all(
      Array.from({ length: FLOOD_CONNECTIONS }, async () => {
        const statuses: number[] = [];
        while (sent < FLOOD_REQUESTS) {
          sent++;
          const batch = Array.from({ length: BATCH }, () => makeTransaction([{ sku: 'FLOOD' }], { terminalId: `T${flooder + 1}` }));
          const res = await post(flooder, '/v1/transactions/batch', { transactions: batch });
          statuses.push(res.status);
          if (res.status === 200) {
            const body = (await res.json()) as IngestBatchResponse;
            expect(body.summary).toEqual({ created: BATCH, replayed: 0, failed: 0 });
          } else {
            await res.body?.cancel();
          }
        }
        return statuses;
      }).concat(
        // The five sell one sale after another, each on its own connection, while the flood runs.
        Array.from({ length: SELLERS }, async (_, t) => {
          const statuses: number[] = [];
          for (let i = 0; i < SALES_EACH; i++) {
            const res = await post(t, '/v1/transactions', makeTransaction([{ sku: `SKU-${t}` }], { terminalId: `T${t + 1}` }));
            statuses.push(res.status * -1); // negative: the sellers' statuses, kept apart from the flooder's
            await res.body?.cancel();
          }
          return statuses;
        }),
      ),
    );
    const all = flood.flat();
    const sellers = count(all.filter((s) => s < 0).map((s) => -s));
    const flooded = count(all.filter((s) => s > 0));
    // Every sale of the five: 201, none refused (no 503, no 429).
    expect(sellers).toEqual({ 201: SELLERS * SALES_EACH });
    // The flooder: its transaction budget (the default burst, 500 = one full batch) taken, everything after refused with 429.
    expect(flooded).toEqual({ 200: 500 / BATCH, 429: FLOOD_REQUESTS - 500 / BATCH });
    const records = await readTopic(kafka.kafka, `${kafka.prefix}pos.transactions.v1`);
    expect(records).toHaveLength(SELLERS * SALES_EACH + 500);
  }, 120_000);

  it("refuses a terminal past its share of the in-flight capacity with 429 while another terminal's sale is captured", async () => {
    // The journal's connection goes through a proxy: holding it keeps a re-sent batch in flight (its look-up cannot answer).
    const target = new URL(testEnv.POSTGRES_URL);
    const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port) });
    const through = (url: string) => {
      const u = new URL(url);
      u.port = String(proxy.port);
      return u.toString();
    };
    // Room for T1's batch twice in its transaction budget: this is about the in-flight share, not that budget.
    const { post, ingest, viewer } = await store(2, { MAX_IN_FLIGHT_PER_TERMINAL: String(BATCH), TERMINAL_TRANSACTIONS_BURST: String(2 * BATCH), TOKEN_CACHE_MS: '600000' }, { databaseUrl: through });
    const batch = Array.from({ length: BATCH }, () => makeTransaction([{ sku: 'BACKLOG' }], { terminalId: 'T1' }));
    const first = (await (await post(0, '/v1/transactions/batch', { transactions: batch })).json()) as IngestBatchResponse;
    expect(first.summary.created).toBe(BATCH);
    // T2's token is looked up (and cached) before the hold.
    expect((await post(1, '/v1/transactions', makeTransaction([{ sku: 'A' }], { terminalId: 'T2' }))).status).toBe(201);
    const inFlight = async () => Number(/^ingest_in_flight\S* (\d+)/m.exec(await (await fetch(`${ingest.url}/metrics`, viewer)).text())?.[1]);
    await waitFor(async () => (await inFlight()) === 0, { timeoutMs: 10_000, message: 'nothing in flight' });

    proxy.hold();
    const resent = post(0, '/v1/transactions/batch', { transactions: batch });
    try {
      await waitFor(async () => (await inFlight()) === BATCH, { timeoutMs: 10_000, message: "T1's re-sent batch in flight" });
      const over = await post(0, '/v1/transactions', makeTransaction([{ sku: 'B' }], { terminalId: 'T1' }));
      expect(over.status).toBe(429);
      expect(over.headers.get('retry-after')).toBe('1');
      expect((await post(1, '/v1/transactions', makeTransaction([{ sku: 'C' }], { terminalId: 'T2' }))).status).toBe(201);
    } finally {
      proxy.release(); // also when an assertion failed: ingest must be able to stop
    }
    const replayed = (await (await resent).json()) as IngestBatchResponse;
    expect(replayed.summary).toEqual({ created: 0, replayed: BATCH, failed: 0 });
  }, 120_000);
});
