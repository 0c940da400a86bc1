import { randomUUID } from 'node:crypto';
import { milliToDecimal, storeTopics, toMilli } from '@tillstream/contracts';
import { createPool, issueTerminalToken, issueUserToken } from '@tillstream/db';
import { CLUSTER_PROFILES, deleteTopics, ensureTopics, type Kafka } from '@tillstream/kafka';
import { makeTransaction, startProcess, stopProcess, type LineSpec } from '@tillstream/testing';
import { percentile, progress, table } from './harness.ts';
import { openModelLoad } from './open-model.ts';
import { localKafka } from './kafka.ts';
import { cpuMillis } from './processes.ts';
import { LINES_PER_TX, TRENDS_UNPUBLISHED_SQL, basket, benchLogger as logger, fillTopic, scratchDatabase, storedOffset } from './store-data.ts';

const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const FRESHNESS_RATE = Number(process.env.BENCH_RATE ?? 500);
const FRESHNESS_S = Number(process.env.BENCH_DURATION_S ?? 20);
const SERVICE_PORT = 18081;
const INGEST_PORT = 18080;

/** Baseline: plain UNNEST batch inserts of the same rows (no ledger logic, no unique keys), same batch size. */
async function rawInsertRate(url: string, lines: number): Promise<number> {
  const pool = createPool({ connectionString: url, logger, applicationName: 'bench-raw', max: 1 });
  await pool.query('CREATE TABLE raw_movements (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku text, kind text, quantity numeric(16,3), transaction_id uuid, line_number int, occurred_at timestamptz)');
  const batch = 1000 * LINES_PER_TX;
  const bar = progress('raw PostgreSQL inserts', lines);
  const started = performance.now();
  for (let done = 0; done < lines; ) {
    const n = Math.min(batch, lines - done);
    const rows = Array.from({ length: n }, (_, k) => basket(Math.floor((done + k) / LINES_PER_TX))[(done + k) % LINES_PER_TX]!);
    const tx = Array.from({ length: n }, (_, k) => (k % LINES_PER_TX === 0 ? randomUUID() : '')).map((id, k, all) => id || all[k - (k % LINES_PER_TX)]!);
    await pool.query('BEGIN');
    await pool.query(
      `INSERT INTO raw_movements (sku, kind, quantity, transaction_id, line_number, occurred_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::uuid[], $5::int[], $6::timestamptz[])`,
      [rows.map((r) => r.sku), rows.map(() => 'SALE'), rows.map((r) => milliToDecimal(-toMilli(r.quantity ?? 1))), tx, rows.map((_, k) => (k % LINES_PER_TX) + 1), rows.map(() => new Date().toISOString())],
    );
    await pool.query('COMMIT');
    done += n;
    bar.tick(done);
  }
  bar.done();
  const rate = lines / ((performance.now() - started) / 1000);
  await pool.end();
  return rate;
}

/** A POS-consuming service under test: its entry point and how to count the lines it booked. */
interface Subject {
  name: 'inventory' | 'trends';
  main: string;
  env: Record<string, string>;
  bookedLinesSql: string;
  /** Derived events not yet acknowledged by the broker. */
  unpublishedSql: string;
}

const INVENTORY: Subject = { name: 'inventory', main: 'services/inventory/src/main.ts', env: {}, bookedLinesSql: "SELECT count(*) AS n FROM inventory_movements WHERE kind = 'SALE'", unpublishedSql: 'SELECT count(*) AS n FROM event_outbox' };
const TRENDS: Subject = { name: 'trends', main: 'services/trends/src/main.ts', env: { STORE_TIME_ZONE: 'UTC' }, bookedLinesSql: "SELECT coalesce(sum(jsonb_array_length(contribution->'lines')), 0) AS n FROM sales_transactions", unpublishedSql: TRENDS_UNPUBLISHED_SQL };

async function catchUp(kafka: Kafka, subject: Subject): Promise<Array<Record<string, string | number>>> {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka, logger, prefix, specs: storeTopics });
  await localKafka().grant('store', prefix);
  const db = await scratchDatabase('inv');
  const raw = await scratchDatabase('raw');
  try {
    // Spread over the last 30 days, as a topic holding weeks of a store's trading would be.
    const transactions = await fillTopic(kafka, prefix, Math.ceil(LINES / LINES_PER_TX), 30);
    const lines = transactions * LINES_PER_TX;
    const baseline = await rawInsertRate(raw.url, lines);

    const pool = createPool({ connectionString: db.url, logger, applicationName: 'bench', max: 1 });
    const group = `${prefix}${subject.name}`;
    const started = performance.now();
    const child = await startProcess(subject.main, { ...subject.env, ...localKafka().serviceEnv(subject.name), STORE_ID: 'S001', DATABASE_URL: db.url, TOPIC_PREFIX: prefix, PORT: String(SERVICE_PORT), LOG_LEVEL: 'warn' }, `http://127.0.0.1:${SERVICE_PORT}/healthz`, {
      // e.g. SERVICE_NODE_ARGS=--cpu-prof to profile the catch-up
      nodeArgs: process.env.SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
    });
    const cpuBefore = await cpuMillis(child.pid!);
    const bar = progress(`${subject.name} catch-up (transactions)`, transactions);
    let firstBooked = 0;
    for (;;) {
      const at = await storedOffset(pool, group);
      if (at > 0n && firstBooked === 0) firstBooked = performance.now();
      bar.tick(Number(at));
      if (at >= BigInt(transactions)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    bar.done();
    const finished = performance.now();
    const cpu = (await cpuMillis(child.pid!)) - cpuBefore;
    // Derived events were held while catching up; now they go out, each at its final revision.
    const count = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
    const held = await count(subject.unpublishedSql);
    while ((await count(subject.unpublishedSql)) > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    const drained = performance.now();
    await stopProcess(child);
    const { rows } = await pool.query<{ n: string }>(subject.bookedLinesSql);
    await pool.end();
    if (Number(rows[0]!.n) !== lines) throw new Error(`${subject.name} booked ${rows[0]!.n} lines, expected ${lines}`);
    const fromStart = lines / ((finished - started) / 1000);
    const fromFirst = lines / ((finished - firstBooked) / 1000);
    return [
      { run: 'raw PostgreSQL UNNEST inserts (baseline)', lines, 'lines/s': Math.round(baseline), note: 'same rows, 3,000 per transaction, no ledger' },
      { run: `${subject.name} catch-up from offset 0`, lines, 'lines/s': Math.round(fromFirst), note: `${Math.round(fromStart)} lines/s incl. process start and group join; ${((cpu * 1000) / lines).toFixed(1)} us CPU/line in the service` },
      { run: '  then publishing what was held', lines: held, 'lines/s': Math.round(held / ((drained - finished) / 1000)), note: `${held} derived events (per second in the rate column) published in ${((drained - finished) / 1000).toFixed(1)} s after catching up` },
    ];
  } finally {
    await db.drop();
    await raw.drop();
    await deleteTopics(kafka, storeTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
  }
}

/** How a freshness probe follows a sale answered 201 until the service's API shows it. */
interface FreshnessProbe {
  what: string;
  /** Marks sale `i` if the probe needs it marked (a SKU of its own). */
  shape(i: number, lines: LineSpec[]): void;
  /** Resolves with the ms from now until sale `i` (its receipt given) is visible. */
  follow(i: number, receipt: { offset: string }): Promise<number>;
  /** The store viewer's Authorization header the probe reads the API with (given before the first sale). */
  headers: Record<string, string>;
  stop(): void;
}

const SERVICE = `http://127.0.0.1:${SERVICE_PORT}`;
const POLL_MS = 5;
const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Inventory: sale i sells a SKU of its own; visible once the store API knows the SKU (polled every 5 ms). */
function inventoryProbe(): FreshnessProbe {
  const probe: FreshnessProbe = {
    headers: {},
    what: '201 -> level visible in GET /v1/inventory/items/:sku',
    shape: (i, lines) => {
      lines[0] = { sku: `FRESH-${i}`, quantity: 1, unitPrice: 100 };
    },
    follow: async (i) => {
      const answered = performance.now();
      for (;;) {
        const res = await fetch(`${SERVICE}/v1/inventory/items/FRESH-${i}?movements=0`, { headers: probe.headers });
        await res.arrayBuffer();
        if (res.status === 200) return performance.now() - answered;
        if (performance.now() - answered > 30_000) throw new Error(`FRESH-${i} never became visible`);
        await sleepMs(POLL_MS);
      }
    },
    stop: () => undefined,
  };
  return probe;
}

/**
 * Trends: every sale is today's and the topic is fresh, so the sale at
 * offset k is counted once today's summary counts k + 1 transactions (the
 * service books in offset order). One poller reads the summary every 5 ms
 * for all sales being followed, so the probing load stays constant.
 */
function trendsProbe(): FreshnessProbe {
  const waiting: { offset: number; answered: number; resolve: (ms: number) => void }[] = [];
  let running = true;
  const probe: Pick<FreshnessProbe, 'headers'> = { headers: {} };
  void (async () => {
    while (running) {
      if (waiting.length > 0) {
        const body = (await (await fetch(`${SERVICE}/v1/sales/summary`, { headers: probe.headers })).json()) as { figures: { transactions: number } };
        const now = performance.now();
        for (let i = waiting.length - 1; i >= 0; i--) {
          const w = waiting[i]!;
          if (body.figures.transactions >= w.offset + 1) {
            waiting.splice(i, 1);
            w.resolve(now - w.answered);
          }
        }
      }
      await sleepMs(POLL_MS);
    }
  })();
  return Object.assign(probe, {
    what: '201 -> sale counted in GET /v1/sales/summary',
    shape: () => undefined,
    follow: (_i: number, receipt: { offset: string }) => new Promise<number>((resolve) => waiting.push({ offset: Number(receipt.offset), answered: performance.now(), resolve })),
    stop: () => {
      running = false;
    },
  });
}

/** Freshness: from ingest's 201 to the sale visible in the service's API, at a fixed rate. */
async function freshness(kafka: Kafka, subject: Subject, probe: FreshnessProbe): Promise<Array<Record<string, string | number>>> {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka, logger, prefix, specs: storeTopics });
  await localKafka().grant('store', prefix);
  const db = await scratchDatabase('fresh');
  const pool = createPool({ connectionString: db.url, logger, applicationName: 'bench', max: 1 });
  const token = await issueTerminalToken(pool, { storeId: 'S001', terminalId: 'T01' });
  // The store API and /readyz want a store viewer's token.
  const viewer = { authorization: `Bearer ${await issueUserToken(pool, { name: 'bench', role: 'store-viewer' })}` };
  await pool.end();
  probe.headers = viewer;
  const env = { STORE_ID: 'S001', DATABASE_URL: db.url, TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' };
  const service = await startProcess(subject.main, { ...subject.env, ...env, ...localKafka().serviceEnv(subject.name), PORT: String(SERVICE_PORT) }, `${SERVICE}/readyz`, { readyHeaders: viewer });
  const ingest = await startProcess(
    'services/ingest/src/main.ts',
    { ...env, ...localKafka().serviceEnv('ingest'), PORT: String(INGEST_PORT), TERMINAL_RATE_PER_SECOND: '1000000', TERMINAL_RATE_BURST: '1000000' },
    `http://127.0.0.1:${INGEST_PORT}/readyz`,
    { readyHeaders: viewer },
  );
  try {
    // Every 25th sale is followed from its 201 until the service shows it.
    const SAMPLE = 25;
    const probes: Promise<number>[] = [];
    const result = await openModelLoad({
      url: `http://127.0.0.1:${INGEST_PORT}/v1/transactions`,
      rate: FRESHNESS_RATE,
      seconds: FRESHNESS_S,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: (i) => {
        const lines = basket(i);
        if (i % SAMPLE === 0) probe.shape(i, lines);
        return JSON.stringify(makeTransaction(lines));
      },
      onAnswered: (i, status, body) => {
        if (status === 201 && i % SAMPLE === 0) probes.push(probe.follow(i, JSON.parse(body) as { offset: string }));
      },
    });
    const visible = await Promise.all(probes);
    probe.stop();
    const round = (n: number) => Math.round(n * 10) / 10;
    // The service's own view: how many batches it booked and how long each took.
    const metrics = await (await fetch(`${SERVICE}/metrics`, { headers: viewer })).text();
    const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    const batches = metric('consume_batch_seconds_count');
    const batchMs = (metric('consume_batch_seconds_sum') / batches) * 1000;
    return [
      { run: `ingest POST at ${FRESHNESS_RATE}/s (open model)`, samples: result.requests, 'p50 ms': result.p50, 'p99 ms': result.p99, note: `${result.non2xx} non-2xx, ${result.errors} errors` },
      {
        run: probe.what,
        samples: visible.length,
        'p50 ms': round(percentile(visible, 50)),
        'p99 ms': round(percentile(visible, 99)),
        note: `p90 ${round(percentile(visible, 90))} ms, max ${round(Math.max(...visible))} ms; every ${SAMPLE}th sale followed, polled every ${POLL_MS} ms; ${batches} batches of ${round(result.requests / batches)} tx, ${round(batchMs)} ms each`,
      },
    ];
  } finally {
    await stopProcess(ingest);
    await stopProcess(service);
    await db.drop();
    await deleteTopics(kafka, storeTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
  }
}

async function consumerBench(subject: Subject, probe: FreshnessProbe, freshnessTargetMs: number): Promise<string> {
  const kafka = localKafka().client(`bench-${subject.name}`);
  const caught = await catchUp(kafka, subject);
  const fresh = await freshness(kafka, subject, probe);
  return [
    `Catch-up (target >= 20,000 lines/s), ${LINES.toLocaleString('en')} lines (BENCH_LINES):`,
    table(caught),
    '',
    `Freshness (target p99 <= ${freshnessTargetMs} ms at 500 transactions/s), ${FRESHNESS_S} s (BENCH_DURATION_S):`,
    table(fresh),
  ].join('\n');
}

export const inventoryBench = () => consumerBench(INVENTORY, inventoryProbe(), 250);
export const trendsBench = () => consumerBench(TRENDS, trendsProbe(), 500);
