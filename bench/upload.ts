import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PosTransactionV1,
  hqTopics,
  type Granularity,
  type InventoryLevel,
  type PosTransaction,
  type SalesAggregate,
  type SalesFigures,
} from '@tillstream/contracts';
import { createPool, issueStoreToken, issueUserToken, withTransaction, type Pool } from '@tillstream/db';
import { CLUSTER_PROFILES, deleteTopics, ensureTopics } from '@tillstream/kafka';
import { makeTransaction, startProcess, stopProcess, freePort } from '@tillstream/testing';
import { HqClient, PreparedJson } from '../services/sync/src/hq-client.ts';
import { batchRecordsJson, cutBatches, outboxWriters, saveHqReads, unackedBatches } from '../services/sync/src/outbox.ts';
import { batchLimits } from '../services/sync/src/sweeper.ts';
import { progress, table } from './harness.ts';
import { localKafka } from './kafka.ts';
import { cpuMillis } from './processes.ts';
import { benchLogger as logger, scratchDatabase } from './store-data.ts';
import { benchHqEnv, benchTls } from './tls.ts';

/**
 * Issue 17 item 1: one store-day uploaded to a real HQ process twice, as
 * before (every revision of every window at once, every granularity, a batch
 * per sweep) and coalesced (windows and levels at their latest revision per
 * SYNC_COALESCE_MS, only what HQ declares it reads, batches cut by size or
 * delay), side by side: records, batches, bytes and HQ's CPU per store-day.
 *
 * The day is generated with the issue's shape: 3,000 sales of 3 lines over 2,000 SKUs (Zipf-like popularity, 20
 * categories), 6 terminals, 14 trading hours. The store's trends and
 * inventory are modelled, not run: each sale restates every window it
 * touches (store, SKU, category, terminal, tender x 5m, 1h, day: ~27
 * revisions, as trends publishes them) a second after it, and each line moves
 * its SKU's level. Sync's own code does the rest: its outbox writers, its
 * cutter and its HQ client, on a clock the benchmark moves (a 14-hour day in
 * minutes: no waiting), ticking every simulated second like the sweeper.
 * BENCH_UPLOAD_HOURS plays only the first hours of the day at its pace (a
 * loaded machine takes ~3 minutes per simulated hour); the per-store-day
 * figures are then scaled from them (the ratios are what was measured).
 */

/** Trading hours played (14: the whole day); fewer play the first hours at the day's pace, and the figures are scaled to the day. */
const HOURS = Number(process.env.BENCH_UPLOAD_HOURS ?? 14);
const DAY_TRANSACTIONS = 3000;
const TRANSACTIONS = Math.round((DAY_TRANSACTIONS * HOURS) / 14);
/** From what was played to a store-day of 3,000 sales over 14 hours. */
const PER_DAY = DAY_TRANSACTIONS / TRANSACTIONS;
const SKUS = 2000;
const CATEGORIES = 20;
const TERMINALS = 6;
const LINES = 3;
const COALESCE_MS = Number(process.env.SYNC_COALESCE_MS ?? 300_000);
const MIN_RECORDS = Number(process.env.SYNC_BATCH_MIN_RECORDS ?? 500);
const MAX_DELAY_MS = Number(process.env.SYNC_BATCH_MAX_DELAY_MS ?? 60_000);
/** A simulated second with nothing new is cut only every this many (the bench's shortcut through a quiet day; the sweeper cuts every second). */
const IDLE_CUT_S = 10;
/** Uploads in flight at once in the drain (the uploader has one; more only shortens the run on a loaded machine). */
const UPLOAD_CONCURRENCY = Number(process.env.BENCH_UPLOAD_CONCURRENCY ?? 4);
const logFile = (name: string) => ({ logFile: join(tmpdir(), `tillstream-bench-upload-${name}.log`) });

/** Deterministic: both runs trade the very same day. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Event = { at: number } & ({ stream: 'transaction'; data: PosTransaction } | { stream: 'aggregate'; data: SalesAggregate } | { stream: 'level'; data: InventoryLevel });

interface StoreDay {
  events: Event[];
  /** What HQ's views must hold at the end: the day/store net, and the final revision sum of day windows and movement sum of levels. */
  expected: { transactions: number; dayNet: number; dayWindows: number; dayRevisions: number; levels: number; movementSum: bigint };
  /** Distinct windows of any granularity at the end of the day. */
  windows: number;
}

const ZERO: SalesFigures = { units: 0, gross: 0, discounts: 0, net: 0, tax: 0, transactions: 0, items: 0, returns: 0, returnsUnits: 0, returnsAmount: 0 };

/** One store-day of trading and what the store's trends and inventory would publish for it, in time order. */
export function storeDay(storeId: string, businessDay: string): StoreDay {
  const random = mulberry32(17);
  // Zipf-like popularity (s = 1): a few SKUs sell all day, most a few times.
  const weights = Array.from({ length: SKUS }, (_, i) => 1 / (i + 1));
  const cumulative: number[] = [];
  weights.reduce((sum, w, i) => (cumulative[i] = sum + w), 0);
  const total = cumulative[SKUS - 1]!;
  const pick = () => {
    const x = random() * total;
    let lo = 0;
    let hi = SKUS - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const open = Date.parse(`${businessDay}T08:00:00Z`);
  const step = (HOURS * 3_600_000) / TRANSACTIONS; // the day's pace: 14 h / 3,000 sales
  const windows = new Map<string, SalesAggregate>();
  const onHand = new Map<number, number>();
  const sequence = new Map<string, number>();
  const events: Event[] = [];
  let movement = 0;
  const floor = (ms: number, g: Granularity) => (g === 'day' ? `${businessDay}T00:00:00Z` : new Date(ms - (ms % (g === '5m' ? 300_000 : 3_600_000))).toISOString().replace('.000Z', 'Z'));
  for (let i = 0; i < TRANSACTIONS; i++) {
    const at = Math.round(open + i * step + random() * step * 0.9);
    const terminalId = `T0${1 + (i % TERMINALS)}`;
    const seq = (sequence.get(terminalId) ?? 0) + 1;
    sequence.set(terminalId, seq);
    const skus = [...new Set(Array.from({ length: LINES }, pick))];
    const lines = skus.map((s) => ({ sku: `SKU-${s}`, category: `C${s % CATEGORIES}`, quantity: 1 + (s % 2), unitPrice: 99 + ((s * 37) % 900) }));
    const tx = PosTransactionV1.parse(
      makeTransaction(lines, { storeId, terminalId, sequenceNumber: seq, businessDay, occurredAt: new Date(at).toISOString() }),
    );
    events.push({ at, stream: 'transaction', data: tx });
    const published = at + 1000;
    const updatedAt = new Date(published).toISOString();
    const touch = (g: Granularity, dimension: SalesAggregate['dimension'], member: string, add: Partial<SalesFigures>) => {
      const windowStart = floor(at, g);
      const key = `${g}|${windowStart}|${dimension}|${member}`;
      const prev = windows.get(key);
      const figures = { ...(prev?.figures ?? ZERO) };
      for (const [k, v] of Object.entries(add) as Array<[keyof SalesFigures, number]>) figures[k] += v;
      const next: SalesAggregate = { storeId, granularity: g, windowStart, businessDay, dimension, member, figures, revision: (prev?.revision ?? 0) + 1, updatedAt };
      windows.set(key, next);
      return next;
    };
    for (const g of ['5m', '1h', 'day'] as const) {
      const touched: SalesAggregate[] = [];
      const whole = { units: lines.reduce((n, l) => n + l.quantity, 0), gross: tx.totals.net, net: tx.totals.net, transactions: 1, items: lines.length };
      touched.push(touch(g, 'store', storeId, whole), touch(g, 'terminal', terminalId, whole), touch(g, 'tender', tx.tenders[0]!.type, { net: tx.totals.net, transactions: 1 }));
      const byCategory = new Map<string, number>();
      for (const l of lines) {
        const amount = l.quantity * l.unitPrice;
        touched.push(touch(g, 'sku', l.sku, { units: l.quantity, gross: amount, net: amount, transactions: 1, items: 1 }));
        byCategory.set(l.category, (byCategory.get(l.category) ?? 0) + amount);
      }
      for (const [category, amount] of byCategory) touched.push(touch(g, 'category', category, { gross: amount, net: amount, transactions: 1 }));
      for (const a of touched) events.push({ at: published, stream: 'aggregate', data: { ...a, figures: { ...a.figures } } });
    }
    for (const [n, l] of lines.entries()) {
      movement += 1;
      const s = skus[n]!;
      const left = (onHand.get(s) ?? 1000) - l.quantity;
      onHand.set(s, left);
      events.push({
        at: published,
        stream: 'level',
        data: { storeId, sku: l.sku, onHand: left, unitOfMeasure: 'EA', state: 'OK', lastMovement: { id: String(movement), kind: 'SALE', quantity: -l.quantity, at: tx.occurredAt }, updatedAt },
      });
    }
  }
  events.sort((a, b) => a.at - b.at);
  // What HQ's views read (and declare): day windows of the store, SKUs and categories.
  const day = [...windows.values()].filter((w) => w.granularity === 'day' && ['store', 'sku', 'category'].includes(w.dimension));
  const finalMovement = new Map<string, bigint>();
  for (const e of events) if (e.stream === 'level') finalMovement.set(e.data.sku, BigInt(e.data.lastMovement!.id));
  return {
    events,
    windows: windows.size,
    expected: {
      transactions: TRANSACTIONS,
      dayNet: day.find((w) => w.dimension === 'store')!.figures.net,
      dayWindows: day.length,
      dayRevisions: day.reduce((n, w) => n + w.revision, 0),
      levels: finalMovement.size,
      movementSum: [...finalMovement.values()].reduce((a, b) => a + b, 0n),
    },
  };
}

interface RunResult {
  records: number;
  batches: number;
  bytes: number;
  hqCpuMs: number;
  seconds: number;
  dayNetAtHq: number;
  byStream: Record<string, number>;
}

/**
 * Plays the day through sync's writers and cutter into a fresh store
 * database, uploading each batch to HQ as it is cut (as the uploader does,
 * in order, each acknowledged before the next), then waits until HQ's views
 * hold the day: HQ's CPU is counted from the first upload to then.
 */
async function playDay(
  mode: 'before' | 'coalesced',
  day: StoreDay,
  hq: { url: string; pid: number; pool: Pool; client: (storeId: string) => Promise<HqClient>; drainTurn: () => Promise<() => void> },
  storeId: string,
): Promise<RunResult> {
  const store = await scratchDatabase(`upload_${mode}`);
  const pool = createPool({ connectionString: store.url, logger, applicationName: 'bench-upload', max: 2, connectionTimeoutMs: 60_000 });
  let release: (() => void) | undefined;
  try {
    const client = await hq.client(storeId);
    const limits = batchLimits({ batchRecords: 2000, batchBytes: 8 * 1024 * 1024 }, await client.limits());
    const coalesced = mode === 'coalesced';
    // The store asks HQ what it reads (the sweeper's "reads" chore), before the day starts.
    if (coalesced) {
      const reads = await client.reads();
      if (reads) await saveHqReads(pool, reads);
    }
    // Whole seconds, as the sweeper's ticks: every fifth one cuts even when nothing arrived (windows come due).
    let clock = Math.floor(day.events[0]!.at / 1000) * 1000;
    const now = () => new Date(clock);
    const write = outboxWriters({ coalesce: coalesced, now });
    const cutOptions = coalesced ? { coalesceMs: COALESCE_MS, minRecords: MIN_RECORDS, maxDelayMs: MAX_DELAY_MS, now } : { coalesceMs: 0, minRecords: 1, maxDelayMs: 0, now };
    // The day, played through sync's writers and cutter on the bench's clock. What is cut does not depend
    // on HQ's acknowledgements, so the store's side is played first and the batches drained to HQ after:
    // HQ's CPU is then its own work on exactly the batches the store cut, nothing else of the bench.
    // Past the last sale: its windows wait the interval, then for a batch.
    const end = day.events[day.events.length - 1]!.at + (coalesced ? COALESCE_MS + MAX_DELAY_MS : 0) + 10_000;
    const bar = progress(`${mode}: the store plays the day (simulated minutes)`, Math.ceil((end - clock) / 60_000));
    let next = 0;
    for (let tick = clock; tick <= end; tick += 1000) {
      clock = tick;
      const due: Event[] = [];
      while (next < day.events.length && day.events[next]!.at <= tick) due.push(day.events[next++]!);
      // The sweeper cuts every second; a second with nothing new is cut only every IDLE_CUT_S (windows come due then, at most that late).
      if (due.length === 0 && (tick / 1000) % IDLE_CUT_S !== 0) continue;
      // What the consumers booked this second, then the sweep's cut (one database transaction: the bench's round trips, not sync's).
      await withTransaction(pool, async (c) => {
        const txs = due.flatMap((e) => (e.stream === 'transaction' ? [e.data] : []));
        const aggregates = due.flatMap((e) => (e.stream === 'aggregate' ? [e.data] : []));
        const levels = due.flatMap((e) => (e.stream === 'level' ? [e.data] : []));
        if (txs.length) await write.transactions(c, txs);
        if (aggregates.length) await write.aggregates(c, aggregates);
        if (levels.length) await write.levels(c, levels);
        await cutBatches(c, storeId, limits, cutOptions);
      });
      if ((tick / 1000) % 60 === 0) bar.tick(Math.round((tick - day.events[0]!.at) / 60_000));
    }
    bar.done();

    // The batches to HQ in order, as the uploader sends them (the next body read while HQ applies the current one),
    // UPLOAD_CONCURRENCY at a time to get through thousands of small ones on a loaded machine.
    // Both stores play their day at once; HQ takes one store's batches at a time, so its CPU is that store's.
    release = await hq.drainTurn();
    const batches = await unackedBatches(pool, 1_000_000);
    const bodies = await Promise.all(
      batches.map(async (b) => ({ batchId: b.batchId, prepared: new PreparedJson(`{"batchId":${JSON.stringify(b.batchId)},"records":${(await batchRecordsJson(pool, b)).json},"backlog":{"records":0,"oldestAt":null}}`) })),
    );
    const bytes = bodies.reduce((n, b) => n + Buffer.byteLength(b.prepared.json), 0);
    const cpuBefore = await cpuMillis(hq.pid);
    const started = performance.now();
    const drain = progress(`${mode}: HQ takes the batches`, bodies.length);
    let sent = 0;
    const lanes = Array.from({ length: UPLOAD_CONCURRENCY }, async (_, lane) => {
      for (let i = lane; i < bodies.length; i += UPLOAD_CONCURRENCY) {
        await client.uploadBatch(bodies[i]!);
        drain.tick(++sent);
      }
    });
    await Promise.all(lanes);
    drain.done();
    // HQ's views hold the day: every transaction, every day window at its last revision, every level at its last movement.
    const e = day.expected;
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const { rows } = await hq.pool.query<{ t: string; w: string; r: string; l: string; m: string | null }>(
        `SELECT (SELECT count(*) FROM hq_transactions WHERE store_id = $1) AS t,
           (SELECT count(*) FROM hq_sales_aggregates WHERE store_id = $1 AND granularity = 'day' AND dimension IN ('store', 'sku', 'category')) AS w,
           (SELECT coalesce(sum(revision), 0) FROM hq_sales_aggregates WHERE store_id = $1 AND granularity = 'day' AND dimension IN ('store', 'sku', 'category')) AS r,
           (SELECT count(*) FROM hq_inventory_levels WHERE store_id = $1) AS l,
           (SELECT sum(last_movement_id)::text FROM hq_inventory_levels WHERE store_id = $1) AS m`,
        [storeId],
      );
      const r = rows[0]!;
      if (Number(r.t) === e.transactions && Number(r.w) === e.dayWindows && Number(r.r) === e.dayRevisions && Number(r.l) === e.levels && BigInt(r.m ?? '0') === e.movementSum) break;
      if (Date.now() > deadline) throw new Error(`${mode}: HQ's views did not reach the day: ${JSON.stringify(r)} vs ${JSON.stringify({ ...e, movementSum: String(e.movementSum) })}`);
      await sleep(200);
    }
    const hqCpuMs = (await cpuMillis(hq.pid)) - cpuBefore;
    const seconds = (performance.now() - started) / 1000;
    const { rows: streams } = await pool.query<{ stream: string; n: string }>(
      'SELECT stream, count(*) AS n FROM sync_outbox WHERE id <= (SELECT max(last_id) FROM sync_batches) GROUP BY stream',
    );
    const { rows: totals } = await pool.query<{ records: string; batches: string }>('SELECT coalesce(sum(records), 0) AS records, count(*) AS batches FROM sync_batches');
    const { rows: net } = await hq.pool.query<{ net: string }>("SELECT net FROM hq_sales_aggregates WHERE store_id = $1 AND granularity = 'day' AND dimension = 'store'", [storeId]);
    return {
      records: Number(totals[0]!.records),
      batches: Number(totals[0]!.batches),
      bytes,
      hqCpuMs,
      seconds,
      dayNetAtHq: Number(net[0]?.net ?? NaN),
      byStream: Object.fromEntries(streams.map((s) => [s.stream, Number(s.n)])),
    };
  } finally {
    release?.();
    await pool.end();
    await store.drop();
  }
}

export async function uploadBench(): Promise<string> {
  const hqCluster = localKafka('hq');
  const hqKafka = hqCluster.client('bench-upload-hq');
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  await ensureTopics({ placement: CLUSTER_PROFILES['single-broker'], kafka: hqKafka, logger, prefix, specs: hqTopics });
  await hqCluster.grant('hq', prefix);
  const hqDb = await scratchDatabase('hq', 'hq');
  const hqPool = createPool({ connectionString: hqDb.url, logger, applicationName: 'bench', max: 1, connectionTimeoutMs: 60_000 });
  const tls = await benchTls();
  let hqProcess: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    const businessDay = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const hqViewer = { authorization: `Bearer ${await issueUserToken(hqPool, { name: 'bench', role: 'hq-viewer' })}` };
    const hqPort = await freePort();
    const hqUrl = `https://127.0.0.1:${hqPort}`;
    hqProcess = await startProcess(
      'services/hq/src/main.ts',
      benchHqEnv(tls, { kafkaEnv: hqCluster.serviceEnv('hq'), prefix, databaseUrl: hqDb.url, port: hqPort }),
      `${hqUrl}/readyz`,
      { ...logFile('hq'), readyHeaders: hqViewer },
    );
    const client = async (storeId: string) => {
      const token = await issueStoreToken(hqPool, storeId);
      const cert = await tls.storeClient(storeId);
      const { readFile } = await import('node:fs/promises');
      return new HqClient({
        url: hqUrl,
        storeId,
        token,
        tls: { cert: cert.cert, key: cert.key, ca: await readFile(tls.caFile, 'utf8') },
        timeoutMs: 60_000,
        retry: { baseMs: 200, maxMs: 1000 },
      });
    };
    let turn = Promise.resolve();
    const drainTurn = () => {
      let done!: () => void;
      const previous = turn;
      turn = new Promise<void>((resolve) => (done = resolve));
      return previous.then(() => done);
    };
    const hq = { url: hqUrl, pid: hqProcess.pid!, pool: hqPool, client, drainTurn };
    // HQ's own CPU while idle (its reconciler, dashboard and consumers polling), to read the figures against.
    const idleFrom = await cpuMillis(hq.pid);
    await sleep(10_000);
    const idleMsPerS = ((await cpuMillis(hq.pid)) - idleFrom) / 10;

    const day = storeDay('S002', businessDay);
    const [before, after] = await Promise.all([playDay('before', storeDay('S001', businessDay), hq, 'S001'), playDay('coalesced', day, hq, 'S002')]);
    const perDay = (n: number) => Math.round(n * PER_DAY);
    const row = (label: string, r: RunResult) => ({
      run: label,
      'records/day': perDay(r.records),
      transactions: perDay(r.byStream.transaction ?? 0),
      windows: perDay(r.byStream.aggregate ?? 0),
      levels: perDay(r.byStream.level ?? 0),
      'batches/day': perDay(r.batches),
      'records/batch': Math.round(r.records / Math.max(1, r.batches)),
      'MB/day': ((r.bytes * PER_DAY) / 1e6).toFixed(1),
      'HQ CPU s/day': ((r.hqCpuMs * PER_DAY) / 1000).toFixed(1),
      'HQ us/record': Math.round((r.hqCpuMs * 1000) / Math.max(1, r.records)),
      'wall s': r.seconds.toFixed(0),
      'HQ day net': r.dayNetAtHq === day.expected.dayNet ? 'equal' : `${r.dayNetAtHq} != ${day.expected.dayNet}`,
    });
    const ratio = (a: number, b: number) => `${(a / Math.max(1, b)).toFixed(1)}x`;
    return [
      `One store-day (3,000 sales x ${LINES} lines, ${SKUS} SKUs, ${TERMINALS} terminals, 14 trading hours; played: ${HOURS} h, ${TRANSACTIONS.toLocaleString('en')} sales, figures per day scaled x${PER_DAY.toFixed(2)} (BENCH_UPLOAD_HOURS); ${day.windows.toLocaleString('en')} distinct windows, ${day.expected.dayWindows.toLocaleString('en')} of them day windows of the store, SKUs and categories, which HQ reads) uploaded to one HQ process:`,
      `  before: every revision at once, every granularity, a batch per sweep (SYNC_COALESCE_MS=0, no HQ declaration, batches cut every second)`,
      `  coalesced: SYNC_COALESCE_MS=${COALESCE_MS}, HQ's declaration (day windows of store, SKU and category), SYNC_BATCH_MIN_RECORDS=${MIN_RECORDS}, SYNC_BATCH_MAX_DELAY_MS=${MAX_DELAY_MS}`,
      table([row('before', before), row('coalesced', after)]),
      `Per store-day: ${ratio(before.records, after.records)} fewer records (target >= 5x), ${ratio(before.hqCpuMs, after.hqCpuMs)} less HQ CPU (target >= 3x), ${ratio(before.batches, after.batches)} fewer batches, ${ratio(before.bytes, after.bytes)} fewer bytes.`,
      `HQ CPU is the HQ process's user+system time (/proc) from the run's first upload until its views hold the day (the store plays its day first, then its batches are sent, BENCH_UPLOAD_CONCURRENCY at a time); it includes HQ's idle work (${idleMsPerS.toFixed(0)} ms/s measured idle before the runs) over each run's wall time.`,
    ].join('\n');
  } finally {
    if (hqProcess) await stopProcess(hqProcess);
    await hqPool.end();
    await tls.close();
    await hqDb.drop();
    await deleteTopics(hqKafka, hqTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
  }
}
