import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryAlerts, inventoryLevels, milliToDecimal, posTransactions, salesAggregates, salesAnomalies, storeTopics, topicName, toMilli, type AnyTopicSpec } from '@tillstream/contracts';
import { createPool, issueTerminalToken, issueUserToken, type Pool } from '@tillstream/db';
import { CLUSTER_PROFILES, deleteTopics, ensureTopics, topicRecordCount, type Kafka } from '@tillstream/kafka';
import { makeTransaction, startProcess, stopProcess, type LineSpec } from '@tillstream/testing';
import { CpuSampler } from './cpu.ts';
import { builtMain, formatSpread, onInterrupt, percentile, progress, table } from './harness.ts';
import { openModelLoad } from './open-model.ts';
import { localKafka, withPeerBroker, type BenchKafka } from './kafka.ts';
import { buildPeer, peerSourceDir, peerUnavailable, startPeer, stopPeer, type PeerResult } from './peer.ts';
import { LINES_PER_TX, TRENDS_UNPUBLISHED_SQL, basket, benchLogger as logger, fillTopic, scratchDatabase, storedOffset } from './store-data.ts';

const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const FRESHNESS_RATE = Number(process.env.BENCH_RATE ?? 500);
const FRESHNESS_S = Number(process.env.BENCH_DURATION_S ?? 20);
// Ports of the service and ingest the bench starts (BENCH_SERVICE_PORT, BENCH_INGEST_PORT when others are taken).
const SERVICE_PORT = Number(process.env.BENCH_SERVICE_PORT ?? 18081);
const INGEST_PORT = Number(process.env.BENCH_INGEST_PORT ?? 18080);

const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run's figures for one subject: its rate and its CPU per line, by process. */
interface Figures {
  linesPerS: number;
  /** The service's process (Tillstream's node, the peer's JVM); NaN for the raw baseline. */
  serviceUs: number;
  /** Every PostgreSQL server process (backends, WAL writer, checkpointer, ...), /proc. */
  postgresUs: number;
  /** Of which the backends serving this run's database (unaffected by other clients of a shared server). */
  backendsUs: number;
  /** The bench's broker; NaN for the raw baseline. */
  brokerUs: number;
}

/** Service + PostgreSQL + broker, the parts a baseline lacks left out. */
const wholeUs = (f: Figures) => [f.serviceUs, f.postgresUs, f.brokerUs].filter((v) => Number.isFinite(v)).reduce((a, b) => a + b, 0);
/** Backends of the pool's database other than the pool's own connection. */
const backendsOf = (pool: Pool) => async () =>
  (await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((r) => r.pid);

/** Service + PostgreSQL's backends of the run's database + broker: what a busy shared server cannot blur. */
const wholeBackendsUs = (f: Figures) => wholeUs({ ...f, postgresUs: f.backendsUs });
/** CPU ms over a window -> µs per line. */
const perLine = (ms: number, lines: number) => (ms * 1000) / lines;

/** Baseline: plain UNNEST batch inserts of the same rows (no ledger logic, no unique keys), same batch size; PostgreSQL's CPU read alongside. */
async function rawInsertRate(url: string, lines: number): Promise<Figures> {
  const pool = createPool({ connectionString: url, logger, applicationName: 'bench-raw', max: 1 });
  await pool.query('CREATE TABLE raw_movements (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku text, kind text, quantity numeric(16,3), transaction_id uuid, line_number int, occurred_at timestamptz)');
  const batch = 1000 * LINES_PER_TX;
  const bar = progress('raw PostgreSQL inserts', lines);
  const monitor = createPool({ connectionString: url, logger, applicationName: 'bench-monitor', max: 1 });
  const sampler = new CpuSampler(true);
  sampler.followGroup('backends', backendsOf(monitor));
  await sampler.start();
  const started = Date.now();
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
  const finished = Date.now();
  await sampler.sample();
  await sampler.stop();
  bar.done();
  await pool.end();
  await monitor.end();
  return {
    linesPerS: lines / ((finished - started) / 1000),
    serviceUs: NaN,
    postgresUs: perLine(sampler.between('postgres', started, finished), lines),
    backendsUs: perLine(sampler.between('backends', started, finished), lines),
    brokerUs: NaN,
  };
}

/** A POS-consuming service under test (run from its build: builtMain) and how to count the lines it booked. */
interface Subject {
  name: 'inventory' | 'trends';
  env: Record<string, string>;
  bookedLinesSql: string;
  /** Whether derived events wait to be published (0 when none): polled, so cheap. */
  unpublishedSql: string;
  /** Topics it publishes derived events to: their records counted when booking is done and when all is published. */
  publishes: AnyTopicSpec[];
}

const INVENTORY: Subject = { name: 'inventory', env: {}, bookedLinesSql: "SELECT count(*) AS n FROM inventory_movements WHERE kind = 'SALE'", unpublishedSql: 'SELECT count(*) AS n FROM event_outbox', publishes: [inventoryLevels, inventoryAlerts] };
const TRENDS: Subject = { name: 'trends', env: { STORE_TIME_ZONE: 'UTC' }, bookedLinesSql: "SELECT coalesce(sum(jsonb_array_length(contribution->'lines')), 0) AS n FROM sales_transactions", unpublishedSql: TRENDS_UNPUBLISHED_SQL, publishes: [salesAggregates, salesAnomalies] };

interface TillstreamRun {
  /** First batch booked -> every line booked. */
  booked: Figures;
  /** First batch booked -> every line booked and every derived event published. */
  published: Figures;
  held: number;
  publishS: number;
  fromStartLinesPerS: number;
}

/** Tillstream's service from offset 0 of the filled topic into a fresh database, until all is booked and published. */
async function tillstreamRun(kafka: BenchKafka, brokerPid: number, prefix: string, subject: Subject, transactions: number): Promise<TillstreamRun> {
  const lines = transactions * LINES_PER_TX;
  const db = await scratchDatabase(subject.name === 'inventory' ? 'inv' : 'trends');
  const forgetDb = onInterrupt(db.drop);
  const pool = createPool({ connectionString: db.url, logger, applicationName: 'bench', max: 1 });
  const group = `${prefix}${subject.name}`;
  const sampler = new CpuSampler(true);
  let child: Awaited<ReturnType<typeof startProcess>> | undefined;
  const forgetChild = onInterrupt(async () => {
    if (child) await stopProcess(child);
  });
  try {
    const started = Date.now();
    child = await startProcess(builtMain(subject.name), { ...subject.env, ...kafka.serviceEnv(subject.name), STORE_ID: 'S001', DATABASE_URL: db.url, TOPIC_PREFIX: prefix, PORT: String(SERVICE_PORT), LOG_LEVEL: 'warn' }, `http://127.0.0.1:${SERVICE_PORT}/healthz`, {
      // e.g. SERVICE_NODE_ARGS=--cpu-prof to profile the catch-up
      nodeArgs: process.env.SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
    });
    sampler.follow('service', child.pid!);
    sampler.follow('broker', brokerPid);
    sampler.followGroup('backends', backendsOf(pool));
    await sampler.start();
    const bar = progress(`Tillstream ${subject.name} catch-up (transactions)`, transactions);
    let first = 0;
    for (;;) {
      const at = await storedOffset(pool, group);
      if (at > 0n && first === 0) {
        first = Date.now();
        await sampler.sample();
      }
      bar.tick(Number(at));
      if (at >= BigInt(transactions)) break;
      await sleepMs(100);
    }
    const booked = Date.now();
    await sampler.sample();
    bar.done();
    // Derived events were held while catching up; now they go out, each at its final revision.
    const count = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
    // What went out after booking: records the broker took meanwhile (no query on the service's tables).
    const outputs = kafka.client('bench-outputs');
    const records = async () => (await Promise.all(subject.publishes.map((spec) => topicRecordCount(outputs, topicName(prefix, spec), { missing: 'empty' })))).reduce((a, b) => a + b, 0);
    const atBooked = await records();
    while ((await count(subject.unpublishedSql)) > 0) await sleepMs(100);
    const published = Date.now();
    const held = (await records()) - atBooked;
    await sampler.sample();
    await sampler.stop();
    const { rows } = await pool.query<{ n: string }>(subject.bookedLinesSql);
    if (Number(rows[0]!.n) !== lines) throw new Error(`${subject.name} booked ${rows[0]!.n} lines, expected ${lines}`);
    const figures = (to: number): Figures => ({
      linesPerS: lines / ((to - first) / 1000),
      serviceUs: perLine(sampler.between('service', first, to), lines),
      postgresUs: perLine(sampler.between('postgres', first, to), lines),
      backendsUs: perLine(sampler.between('backends', first, to), lines),
      brokerUs: perLine(sampler.between('broker', first, to), lines),
    });
    return { booked: figures(booked), published: figures(published), held, publishS: (published - booked) / 1000, fromStartLinesPerS: lines / ((booked - started) / 1000) };
  } finally {
    await sampler.stop();
    if (child) await stopProcess(child);
    forgetChild();
    await pool.end();
    // BENCH_KEEP_DB=1 keeps the service's database, to look at what a catch-up leaves (EXPLAIN its reads, say).
    if (process.env.BENCH_KEEP_DB === '1') console.log(`kept the ${subject.name} run's database (BENCH_KEEP_DB=1): ${db.url.replace(/\/\/[^@]*@/, '//')}`);
    else await db.drop();
    forgetDb();
    await deleteGroups(kafka.client('bench-groups'), [group]);
  }
}

/** Removes consumer groups (best effort: an empty group also expires by itself). */
async function deleteGroups(kafka: Kafka, groups: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
}

/** The Kafka Streams peer from offset 0 of the same topic, until every stage processed and committed everything. */
async function peerRun(kafka: BenchKafka, brokerPid: number, jar: string, input: string, subject: Subject, transactions: number, workDir: string): Promise<{ figures: Figures; result: PeerResult }> {
  const appId = `peer-${randomUUID().slice(0, 8)}-${subject.name}`;
  const stateDir = join(workDir, appId);
  const logFile = join(workDir, `${appId}.log`);
  const sampler = new CpuSampler(true);
  sampler.follow('broker', brokerPid);
  await sampler.start();
  const run = startPeer({ jar, bootstrap: kafka.brokers.join(','), input, appId, mode: subject.name, stateDir, logFile });
  run.result.catch(() => undefined); // awaited below; a run stopped by Ctrl-C must not fail the process twice
  const forget = onInterrupt(() => stopPeer(run.child));
  const client = kafka.client('bench-peer-progress');
  const admin = client.admin();
  await admin.connect();
  const bar = progress(`Kafka Streams ${subject.name} (transactions committed)`, transactions);
  let finished = false;
  // Progress on a terminal only: the polling is a (small) load on the broker whose CPU is measured.
  const ticking = (async () => {
    while (!finished && process.stderr.isTTY) {
      const offsets = await admin.fetchOffsets({ groupId: appId, topics: [input] }).catch(() => []);
      const at = Number(offsets[0]?.partitions[0]?.offset ?? -1);
      if (at > 0) bar.tick(at);
      await sleepMs(500);
    }
  })();
  try {
    const result = await run.result;
    finished = true;
    await ticking;
    bar.done();
    if (result.records !== transactions) throw new Error(`the Kafka Streams peer read ${result.records} transactions, expected ${transactions}`);
    // The JVM's own clock: done = its start + seconds_incl_jvm, first record = done - seconds.
    const done = run.spawnedAt + result.secondsInclJvm * 1000;
    const first = done - result.seconds * 1000;
    await sampler.stop();
    return {
      result,
      figures: {
        linesPerS: result.linesPerS,
        serviceUs: result.cpuUsPerLine,
        postgresUs: perLine(sampler.between('postgres', first, done), result.lines),
        backendsUs: 0,
        brokerUs: perLine(sampler.between('broker', first, done), result.lines),
      },
    };
  } finally {
    finished = true;
    await ticking;
    await sampler.stop();
    await stopPeer(run.child);
    forget();
    // Its output, changelog and repartition topics are all named after its application id.
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${appId}`));
    if (topics.length) await deleteTopics(client, topics).catch(() => undefined);
    await admin.deleteGroups([appId]).catch(() => undefined);
    await admin.disconnect();
    await rm(stateDir, { recursive: true, force: true });
  }
}

const k = (n: number) => `${(n / 1000).toFixed(1)}k`;

/**
 * Catch-up beside the Kafka Streams peer: one POS topic filled once with the
 * project's own fillTopic on a broker of the bench's own, then per run (RUNS
 * or BENCH_RUNS, default 1) Tillstream's service and the peer from offset 0,
 * one after the other; each figure is the median (min–max) over the runs.
 */
async function catchUp(subject: Subject): Promise<string> {
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? process.env.RUNS ?? 1));
  const skipPeer = await peerUnavailable();
  let jar: string | undefined;
  if (!skipPeer) {
    const label = 'building the Kafka Streams peer (mvn -q -B package; cached by source hash)';
    const tty = process.stderr.isTTY;
    let shown = false;
    jar = await buildPeer((seconds) => {
      if (tty) process.stderr.write(`\r${label}: ${seconds} s`);
      else if (!shown) console.error(`${label}...`);
      shown = true;
    });
    if (shown && tty) process.stderr.write('\n');
  }
  const workDir = await mkdtemp(join(tmpdir(), 'tillstream-bench-peer-'));
  const forgetWorkDir = onInterrupt(() => rm(workDir, { recursive: true, force: true }));
  try {
    return await withPeerBroker(async (kafka, brokerPid) => {
      const prefix = `bench-${randomUUID().slice(0, 8)}.`;
      const client = kafka.client(`bench-${subject.name}`);
      await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka: client, logger, prefix, specs: storeTopics });
      // Spread over the last 30 days, as a topic holding weeks of a store's trading would be.
      const transactions = await fillTopic(client, prefix, Math.ceil(LINES / LINES_PER_TX), 30);
      const lines = transactions * LINES_PER_TX;
      const raw = await scratchDatabase('raw');
      const forgetRaw = onInterrupt(raw.drop);
      const baseline = await rawInsertRate(raw.url, lines).finally(async () => {
        await raw.drop();
        forgetRaw();
      });
      const tillstream: TillstreamRun[] = [];
      const peer: Array<{ figures: Figures; result: PeerResult }> = [];
      for (let run = 1; run <= runs; run++) {
        if (runs > 1) console.error(`run ${run} of ${runs} (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
        tillstream.push(await tillstreamRun(kafka, brokerPid, prefix, subject, transactions));
        if (jar) peer.push(await peerRun(kafka, brokerPid, jar, `${prefix}${posTransactions.name}`, subject, transactions, workDir));
      }
      const row = (run: string, figures: Figures[], note: string): Record<string, string | number> => ({
        run,
        'lines/s': formatSpread(figures.map((f) => f.linesPerS)),
        'service us/line': formatSpread(figures.map((f) => f.serviceUs), 1),
        'PostgreSQL us/line': formatSpread(figures.map((f) => f.postgresUs), 1),
        'its backends': formatSpread(figures.map((f) => f.backendsUs), 1),
        'broker us/line': formatSpread(figures.map((f) => f.brokerUs), 1),
        'whole us/line': formatSpread(figures.map(wholeUs), 1),
        note,
      });
      const held = tillstream.map((t) => t.held);
      const rows = [
        row('raw PostgreSQL UNNEST inserts (baseline)', [baseline], 'same rows, 3,000 per transaction, no ledger; PostgreSQL only'),
        row(`Tillstream ${subject.name}: first batch -> all booked`, tillstream.map((t) => t.booked), `${formatSpread(tillstream.map((t) => t.fromStartLinesPerS))} lines/s incl. process start and group join`),
        row(
          `Tillstream ${subject.name}: first batch -> booked and published`,
          tillstream.map((t) => t.published),
          `${formatSpread(held)} derived records published after booking (broker offsets), in ${formatSpread(tillstream.map((t) => t.publishS), 1)} s`,
        ),
      ];
      if (jar) {
        const r = peer.map((p) => p.result);
        rows.push(
          row(
            `Kafka Streams ${r[0]!.guarantee}: first record -> all processed and committed`,
            peer.map((p) => p.figures),
            `${formatSpread(r.map((x) => x.lines / x.secondsInclStart))} lines/s incl. Streams start; ${formatSpread(r.map((x) => (subject.name === 'inventory' ? x.outLevels : x.outWindows)))} ${subject.name === 'inventory' ? 'level' : 'window'} records out; GC ${formatSpread(r.map((x) => x.gcMs))} ms; peak RSS ${formatSpread(r.map((x) => x.peakRssMb))} MB`,
          ),
        );
        // Ratios per run (each pair taken side by side), then their median and range.
        const ratio = (f: (i: number) => number) => formatSpread(tillstream.map((_, i) => f(i)), 2);
        rows.push({
          run: 'Tillstream / Kafka Streams (booked and published)',
          'lines/s': `${ratio((i) => tillstream[i]!.published.linesPerS / peer[i]!.figures.linesPerS)}x`,
          'service us/line': `${ratio((i) => tillstream[i]!.published.serviceUs / peer[i]!.figures.serviceUs)}x`,
          'PostgreSQL us/line': '',
          'its backends': '',
          'broker us/line': `${ratio((i) => tillstream[i]!.published.brokerUs / peer[i]!.figures.brokerUs)}x`,
          'whole us/line': `${ratio((i) => wholeUs(tillstream[i]!.published) / wholeUs(peer[i]!.figures))}x`,
          note: `booked only: ${ratio((i) => tillstream[i]!.booked.linesPerS / peer[i]!.figures.linesPerS)}x lines/s; whole with PostgreSQL's backends only: ${ratio((i) => wholeBackendsUs(tillstream[i]!.published) / wholeBackendsUs(peer[i]!.figures))}x; lines/s above 1 and CPU below 1 favour Tillstream`,
        });
      }
      const peerLine = jar
        ? `Kafka Streams peer: ${peerSourceDir()}, EOS v2 unless BENCH_PEER_GUARANTEE, heap ${process.env.BENCH_PEER_HEAP ?? '512m'}, ${process.env.BENCH_PEER_THREADS ?? 1} stream thread(s); its service CPU is the whole JVM (RocksDB included)`
        : `Kafka Streams peer: skipped (${skipPeer}); the rest ran without it`;
      const pg =
        "PostgreSQL us/line: every postgres server process from /proc (WAL writer, checkpointer, reaped backends included; also other clients of a shared server: the peer row, which uses none, shows that noise); its backends: only the sessions of the run's database; whole = service + PostgreSQL + broker";
      return [
        `Catch-up beside Kafka Streams, ${lines.toLocaleString('en')} lines (BENCH_LINES) in one POS topic filled once with fillTopic, ${runs} run(s) (BENCH_RUNS; median (min–max)), on a PLAINTEXT broker of the bench's own (127.0.0.1:${kafka.brokers[0]!.split(':')[1]}; the peer takes no SASL_SSL settings), ${k(Math.round(baseline.linesPerS))} lines/s raw:`,
        table(rows),
        peerLine,
        pg,
      ].join('\n');
    }, onInterrupt);
  } finally {
    await rm(workDir, { recursive: true, force: true });
    forgetWorkDir();
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
  const service = await startProcess(builtMain(subject.name), { ...subject.env, ...env, ...localKafka().serviceEnv(subject.name), PORT: String(SERVICE_PORT) }, `${SERVICE}/readyz`, { readyHeaders: viewer });
  const ingest = await startProcess(
    builtMain('ingest'),
    { ...env, ...localKafka().serviceEnv('ingest'), PORT: String(INGEST_PORT), TERMINAL_RATE_PER_SECOND: '1000000', TERMINAL_RATE_BURST: '1000000', TERMINAL_TRANSACTIONS_PER_SECOND: '1000000' },
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
  // Printed at once: the catch-up's figures took minutes and must not be lost if freshness fails.
  console.log(await catchUp(subject));
  const fresh = await freshness(kafka, subject, probe);
  return [
    '',
    `Freshness (target p99 <= ${freshnessTargetMs} ms at 500 transactions/s), ${FRESHNESS_S} s (BENCH_DURATION_S):`,
    table(fresh),
  ].join('\n');
}

export const inventoryBench = () => consumerBench(INVENTORY, inventoryProbe(), 250);
export const trendsBench = () => consumerBench(TRENDS, trendsProbe(), 500);
