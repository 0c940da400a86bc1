import { describe, expect, it, onTestFinished } from 'vitest';
import { storeTopics, type PosTransactionInput } from '@tillstream/contracts';
import { issueTerminalToken } from '@tillstream/db';
import { ingestEnv, startIngest } from '@tillstream/ingest';
import { testTrends } from '@tillstream/trends/testing';
import { bakeryCatalog, bakeryTransactions, kafkaServiceEnv, readBakeryCsv, testDatabase, testKafka, testLogger, testTlsEnv } from '@tillstream/testing';

interface Summary {
  figures: { units: number; net: number; tax: number; transactions: number };
}
interface Top {
  items: { sku: string; units: number }[];
}

/**
 * Correctness against an independent computation: the bakery's real log
 * (9,531 transactions over 159 days) goes through ingest, as terminals would
 * send it, into the trends service; every business day's totals,
 * transaction count and top items must equal a plain computation over the
 * CSV with the same catalog.
 */
describe('trends over the bakery log', () => {
  it('gives every business day the totals, counts and top items the CSV gives', async () => {
    const kafka = await testKafka({ specs: storeTopics });
    const ingestDb = await testDatabase({ target: 'store' });
    const tokens = {
      T01: await issueTerminalToken(ingestDb.pool, { storeId: 'S001', terminalId: 'T01' }),
      T02: await issueTerminalToken(ingestDb.pool, { storeId: 'S001', terminalId: 'T02' }),
    };
    const ingest = await startIngest(
      ingestEnv.parse({
        ...testTlsEnv(),
        STORE_ID: 'S001',
        TOPIC_PREFIX: kafka.prefix,
        ...kafkaServiceEnv('ingest'),
        DATABASE_URL: ingestDb.urlFor('ingest'),
        PORT: '0',
        // The log is from 2016-17: ingest must remember ids that long to accept it.
        IDEMPOTENCY_RETENTION_DAYS: '4000',
        // Eight months of a till's log at once is a bulk import, not a till: past a terminal's budgets.
        TERMINAL_TRANSACTIONS_BURST: '100000',
        TERMINAL_BYTES_BURST: '100000000',
      }),
      { logger: testLogger('ingest') },
    );
    onTestFinished(() => ingest.stop());
    const trends = await testTrends({}, { kafka });

    // Each terminal uploads its log through the batch endpoint, 500 at a time.
    const txs = bakeryTransactions();
    for (const terminal of ['T01', 'T02'] as const) {
      const own = txs.filter((tx) => tx.terminalId === terminal);
      for (let i = 0; i < own.length; i += 500) {
        const res = await fetch(`${ingest.url}/v1/transactions/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[terminal]}` },
          body: JSON.stringify({ transactions: own.slice(i, i + 500) }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { summary: { created: number; failed: number } };
        expect(body.summary).toMatchObject({ failed: 0 });
      }
    }
    await trends.caughtUp(120_000);

    // The plain computation, straight from the CSV rows and the catalog.
    const catalog = bakeryCatalog();
    const days = new Map<string, { net: number; tax: number; units: number; transactions: Set<number>; items: Map<string, number> }>();
    for (const row of readBakeryCsv()) {
      if (row.item === 'NONE') continue;
      const item = catalog.items[row.item]!;
      const day = days.get(row.date) ?? { net: 0, tax: 0, units: 0, transactions: new Set(), items: new Map() };
      day.net += item.unitPrice;
      day.units += 1;
      day.transactions.add(row.transaction);
      day.items.set(item.sku, (day.items.get(item.sku) ?? 0) + 1);
      days.set(row.date, day);
    }
    expect(days.size).toBeGreaterThan(150);
    const taxOf = (tx: PosTransactionInput) => tx.lines!.reduce((sum, l) => sum + (l.taxAmount ?? 0), 0);
    const taxByDay = new Map<string, number>();
    for (const tx of txs) taxByDay.set(tx.businessDay, (taxByDay.get(tx.businessDay) ?? 0) + taxOf(tx));

    for (const [date, day] of days) {
      const s = (await (await trends.get(`/v1/sales/summary?businessDay=${date}`)).json()) as Summary;
      expect({ date, ...s.figures }).toMatchObject({ date, net: day.net, units: day.units, transactions: day.transactions.size, tax: taxByDay.get(date) });
      const top = (await (await trends.get(`/v1/sales/top?businessDay=${date}&by=units&limit=3`)).json()) as Top;
      const expected = [...day.items].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).slice(0, 3);
      expect({ date, top: top.items.map((i) => [i.sku, i.units]) }).toEqual({ date, top: expected });
    }
  }, 240_000);
});
