import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PosTransactionV1, decimalToMilli, posTransactions, storeTopics } from '@tillstream/contracts';
import { bookedOffset, topicEnd, type TestConsumerService } from '@tillstream/consumer-service/testing';
import { expectedStock, testInventory } from '@tillstream/inventory/testing';
import { TypedProducer } from '@tillstream/kafka';
import { expectedDays, testTrends } from '@tillstream/trends/testing';
import {
  freePort,
  kafkaServiceEnv,
  killProcess,
  readTopic,
  seededRandom,
  startProcess,
  stopProcess,
  storeTraffic,
  testDatabase,
  testKafka,
  waitFor,
  type TestDatabase,
  type TestKafka,
  type TopicRecord,
} from '@tillstream/testing';

/** What the crash test needs to know of a POS-consuming service. */
interface Subject {
  name: 'inventory' | 'trends';
  main: string;
  env?: Record<string, string>;
  /** The service's state, as comparable values. */
  state(db: TestDatabase): Promise<unknown>;
  /** The same state, computed independently from the topic. */
  expected(records: readonly TopicRecord[]): unknown;
  /** All of the state, for comparing a rebuild with the original. */
  everything(db: TestDatabase): Promise<unknown>;
  /** Invariants of the service's own tables. */
  verify?(db: TestDatabase, records: readonly TopicRecord[]): Promise<void>;
  rebuild(overrides: Record<string, string>, options: { db: TestDatabase; kafka: TestKafka }): Promise<TestConsumerService<unknown>>;
}

const sorted = (entries: Iterable<[string, unknown]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

const inventory: Subject = {
  name: 'inventory',
  main: 'services/inventory/src/main.ts',
  state: async (db) => {
    const { rows } = await db.pool.query<{ sku: string; on_hand: string }>('SELECT sku, on_hand FROM inventory_items WHERE on_hand <> 0');
    return sorted(rows.map((r) => [r.sku, decimalToMilli(r.on_hand)]));
  },
  expected: (records) => sorted([...expectedStock(records)].filter(([, v]) => v !== 0)),
  // Levels, not alert states: hysteresis makes a state depend on the path (batch boundaries), the level does not.
  everything: async (db) => (await db.pool.query<Record<string, unknown>>('SELECT sku, on_hand FROM inventory_items ORDER BY sku')).rows,
  verify: async (db, records) => {
    // Each level is the sum of its movements, and no POS line moved twice (the unique key held).
    const { rows: drift } = await db.pool.query(
      'SELECT i.sku FROM inventory_items i LEFT JOIN inventory_movements m USING (sku) GROUP BY i.sku, i.on_hand HAVING i.on_hand <> COALESCE(sum(m.quantity), 0)',
    );
    expect(drift).toEqual([]);
    const lines = new Set<string>();
    for (const { envelope } of records) {
      const tx = envelope.data;
      if ((tx.type === 'SALE' || tx.type === 'RETURN') && !tx.trainingMode) for (const l of tx.lines) if (!l.voided) lines.add(`${tx.transactionId}:${l.lineNumber}`);
    }
    const { rows } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM inventory_movements WHERE kind IN ('SALE', 'RETURN')");
    expect(Number(rows[0]!.n)).toBe(lines.size);
  },
  rebuild: (overrides, options) => testInventory(overrides, options),
};

const trends: Subject = {
  name: 'trends',
  main: 'services/trends/src/main.ts',
  env: { STORE_TIME_ZONE: 'Europe/London' },
  state: async (db) => {
    const { rows } = await db.pool.query<{ day: string; net: string; tax: string; transactions: number; units: string }>(
      "SELECT to_char(window_start, 'YYYY-MM-DD') AS day, net, tax, transactions, units FROM sales_aggregates WHERE granularity = 'day' AND dimension = 'store'",
    );
    return sorted(rows.map((r) => [r.day, { net: Number(r.net), tax: Number(r.tax), transactions: r.transactions, units: decimalToMilli(r.units) }]));
  },
  expected: (records) => sorted(expectedDays(records)),
  everything: async (db) =>
    (
      await db.pool.query<Record<string, unknown>>(
        `SELECT granularity, dimension, member, window_start, units, gross, discounts, net, tax, transactions, items, returns, returns_units, returns_amount
         FROM sales_aggregates ORDER BY granularity, dimension, member, window_start`,
      )
    ).rows,
  verify: async (db) => {
    // The windows agree with each other: every day's SKUs and 5-minute windows add up to the store's day.
    const { rows } = await db.pool.query(
      `SELECT d.window_start FROM sales_aggregates d
       WHERE d.granularity = 'day' AND d.dimension = 'store'
         AND d.net <> (SELECT sum(net) FROM sales_aggregates s WHERE s.granularity = 'day' AND s.dimension = 'sku' AND s.window_start = d.window_start)`,
    );
    expect(rows).toEqual([]);
    const { rows: windows } = await db.pool.query<{ five: string; hour: string }>(
      `SELECT (SELECT sum(net) FROM sales_aggregates WHERE granularity = '5m' AND dimension = 'store') AS five,
              (SELECT sum(net) FROM sales_aggregates WHERE granularity = '1h' AND dimension = 'store') AS hour`,
    );
    expect(windows[0]!.five).toBe(windows[0]!.hour);
  },
  rebuild: (overrides, options) => testTrends(overrides, options),
};

/**
 * Crash safety (ARCHITECTURE.md invariant 2), for every service that books
 * the POS topic: the process is SIGKILLed again and again while it books.
 * Whatever the moment of the kill (mid-batch, between Kafka's commit of a
 * chunk handed over and the database's, while publishing the outbox), its final state equals a plain
 * computation over the topic, and a rebuild from offset 0 into an empty
 * database (same consumer group, so Kafka's committed offset is at the end)
 * gives the same state.
 */
describe.each([inventory, trends])('$name under SIGKILL', (subject) => {
  it('ends equal to an independent computation over the topic, and a rebuild from offset 0 agrees', async () => {
    const db = await testDatabase({ target: 'store' });
    const kafka = await testKafka({ specs: storeTopics });
    const topic = `${kafka.prefix}${posTransactions.name}`;
    const group = `${kafka.prefix}${subject.name}`;
    const logFile = join(mkdtempSync(join(tmpdir(), `tillstream-${subject.name}-crash-`)), `${subject.name}.log`);
    const port = await freePort();
    const env = {
      STORE_ID: 'S001',
      TOPIC_PREFIX: kafka.prefix,
      ...kafkaServiceEnv(subject.name),
      DATABASE_URL: db.urlFor(subject.name),
      PORT: String(port),
      LOG_LEVEL: 'info',
      // Small batches: more commits, so the kills land between them as often as inside them.
      CONSUME_MAX_BATCH: '50',
      // A killed member holds the partition until the broker gives up on it; keep that short.
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
      ...subject.env,
    };
    let child: ChildProcess | undefined;
    onTestFinished(async () => {
      if (child) await killProcess(child);
    });
    const start = async () => {
      child = await startProcess(subject.main, env, `http://127.0.0.1:${port}/healthz`, { logFile });
    };

    // Traffic flows in the background while the kills go on, then the rest at once.
    const producer = new TypedProducer({ kafka: kafka.kafka, logger: kafka.logger, source: 'test', topicPrefix: kafka.prefix });
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const traffic = storeTraffic(4000, seededRandom(20261123));
    let sent = 0;
    let killing = true;
    const flowing = (async () => {
      while (sent < traffic.length) {
        const slice = traffic.slice(sent, sent + (killing ? 20 : 500));
        await producer.send(posTransactions, slice.map((tx) => ({ storeId: 'S001', data: PosTransactionV1.parse(tx) })));
        sent += slice.length;
        if (killing) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    const random = seededRandom(7);
    for (let kills = 0; kills < 4; kills++) {
      const before = await bookedOffset(db, group, topic);
      await start();
      // Kill it while it is booking: once it made progress, at an arbitrary moment after.
      await waitFor(async () => (await bookedOffset(db, group, topic)) !== before, { timeoutMs: 30_000, message: `${subject.name} to book something after restart ${kills}` });
      await new Promise((resolve) => setTimeout(resolve, random() * 400));
      await killProcess(child!);
    }
    killing = false;
    await flowing;
    await start();
    const end = await topicEnd(kafka, topic);
    await waitFor(async () => (await bookedOffset(db, group, topic)) === end, { timeoutMs: 60_000, message: `${subject.name} to catch up to offset ${end} (log: ${logFile})` });
    await stopProcess(child!);

    const records = await readTopic(kafka.kafka, topic);
    expect(records.length).toBe(Number(end));
    const expected = subject.expected(records);
    expect((expected as unknown[]).length).toBeGreaterThan(0);
    expect(await subject.state(db)).toEqual(expected);
    await subject.verify?.(db, records);

    const fresh = await testDatabase({ target: 'store' });
    const rebuilt = await subject.rebuild({ CONSUMER_GROUP: group, ...subject.env }, { db: fresh, kafka });
    await rebuilt.caughtUp(60_000);
    expect(await subject.everything(fresh)).toEqual(await subject.everything(db));
  }, 180_000);
});
