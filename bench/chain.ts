import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hqTopics } from '@tillstream/contracts';
import { createPool, issueUserToken, type Pool } from '@tillstream/db';
import { clusterPlacement, deleteTopics, ensureTopics } from '@tillstream/kafka';
import { progressBar } from '@tillstream/observability';
import { DEFAULT_SHAPE, PROFILES, chainStoreIds, provisionChain, simulateChain, type ChainTally } from '@tillstream/simulator';
import { startProcess, stopProcess } from '@tillstream/testing';
import { percentile, progress, table } from './harness.ts';
import { localKafka } from './kafka.ts';
import { cpuMillis } from './processes.ts';
import { benchLogger as logger, scratchDatabase } from './store-data.ts';
import { benchHqEnv, benchTls } from './tls.ts';

/** Chain sizes played, one after the other against the same HQ. */
const SIZES = (process.env.BENCH_CHAIN_SIZES ?? '100,300,1000').split(',').map(Number);
const PROFILE = process.env.BENCH_CHAIN_PROFILE ?? 'today';
/** Trading hours each store plays (a slice of its day: the rate is a real day's, the volume a slice's). */
const HOURS = Number(process.env.BENCH_CHAIN_HOURS ?? 0.05);
/** Store seconds per wall second: 3 = a day at three times its average rate (the issue's peak). */
const SPEED = Number(process.env.BENCH_CHAIN_SPEED ?? 3);
/** How long, after the stores close, HQ gets to absorb what is left before the size is called "did not keep up". */
const DRAIN_S = Number(process.env.BENCH_CHAIN_DRAIN_S ?? 60);
const PORT = Number(process.env.BENCH_CHAIN_PORT ?? 21_700);
/**
 * HQ's processes (BENCH_CHAIN_HQ): `all` is one process with every role;
 * `api=2,views=1,reconciler=1` starts HQ by role (HQ_ROLES), the stores
 * spread over the API processes (store i on the (i mod n)-th, as DNS round
 * robin would), each process on a port of its own from BENCH_CHAIN_PORT.
 */
const HQ_LAYOUT = parseLayout(process.env.BENCH_CHAIN_HQ ?? 'all');
const logDir = tmpdir();

type HqRoleName = 'all' | 'api' | 'views' | 'reconciler';

function parseLayout(text: string): Array<{ role: HqRoleName; port: number }> {
  const layout: Array<{ role: HqRoleName; port: number }> = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [role, count = '1'] = part.split('=') as [string, string?];
    if (!['all', 'api', 'views', 'reconciler'].includes(role) || !/^[1-9]\d*$/.test(count)) {
      throw new Error(`BENCH_CHAIN_HQ: "${part}" is not <role>[=<processes>] with role all, api, views or reconciler (e.g. api=2,views=1,reconciler=1)`);
    }
    for (let i = 0; i < Number(count); i++) layout.push({ role: role as HqRoleName, port: PORT + layout.length });
  }
  const serving = layout.filter((p) => p.role === 'all' || p.role === 'api').length;
  const roles = new Set(layout.map((p) => p.role));
  if (serving === 0 || (!roles.has('all') && (!roles.has('views') || !roles.has('reconciler')))) {
    throw new Error('BENCH_CHAIN_HQ needs at least one api (or all) process, and views and reconciler processes unless one runs all');
  }
  return layout;
}

const describeLayout = () =>
  HQ_LAYOUT.length === 1 && HQ_LAYOUT[0]!.role === 'all'
    ? 'One HQ process (all roles)'
    : `HQ by role (BENCH_CHAIN_HQ): ${[...new Set(HQ_LAYOUT.map((p) => p.role))].map((r) => `${HQ_LAYOUT.filter((p) => p.role === r).length} ${r}`).join(', ')} processes`;

interface SizeResult {
  stores: number;
  tally: ChainTally;
  playS: number;
  /** Wall seconds from the stores' close until HQ acknowledged everything (NaN: it did not within the drain). */
  drainS: number;
  hqCpuMs: number;
  freshness: number[];
  reconcileLagS: number[];
  pendingManifests: number;
  backlog: number[];
  viewsCaughtUpS: number;
}

async function count(pool: Pool, sql: string, params: unknown[]): Promise<number> {
  return Number((await pool.query<{ n: string }>(sql, params)).rows[0]!.n);
}

/**
 * HQ absorbing a chain: real HQ processes (one with every role, or one per
 * role as BENCH_CHAIN_HQ says; their own database, topics with a prefix of
 * their own, HTTPS with mutual TLS from BENCH_CHAIN_PORT) and, for each
 * size, that many simulated stores (`simulateChain`, in this process) trading
 * a slice of their day at SPEED times real time. Measured per size: what HQ
 * acknowledged per second, HQ's CPU (from /proc) per store-day, view
 * freshness (a sample of transactions: upload sent -> row in hq_transactions),
 * reconciliation lag (manifest received -> verified, HQ's own timestamps),
 * and whether HQ kept up (the stores' backlog over the run, HQ's 429/503).
 */
export async function chainBench(): Promise<string> {
  const loadAtStart = loadavg()[0]!;
  const profile = PROFILES[PROFILE];
  if (!profile) throw new Error(`BENCH_CHAIN_PROFILE must be one of ${Object.keys(PROFILES).join(', ')}`);
  const kafka = localKafka('hq');
  const admin = kafka.client('bench-chain');
  const prefix = `chainsim-${randomUUID().slice(0, 8)}.`;
  // HQ's partitioning (12 per hq.* topic) on the local one-broker HQ: the views' consumers split the load as at a chain's HQ.
  await ensureTopics({ placement: clusterPlacement('single-broker', { minPartitions: 12 }), kafka: admin, logger, prefix, specs: hqTopics });
  await kafka.grant('hq', prefix);
  const db = await scratchDatabase('chain', 'hq');
  const pool = createPool({ connectionString: db.url, logger, applicationName: 'bench-chain', max: 2 });
  const tls = await benchTls();
  const hq: Array<Awaited<ReturnType<typeof startProcess>>> = [];
  /** CPU of every HQ process (user + system, from /proc). */
  const hqCpu = async () => (await Promise.all(hq.map((p) => cpuMillis(p.pid!)))).reduce((a, b) => a + b, 0);
  const results: SizeResult[] = [];
  let provisionS = NaN;
  let storage: Array<{ table: string; rows: number; bytes: number }> = [];
  try {
    const viewer = { authorization: `Bearer ${await issueUserToken(pool, { name: 'bench', role: 'hq-viewer' })}` };
    for (const [n, { role, port }] of HQ_LAYOUT.entries()) {
      hq.push(
        await startProcess(
          'services/hq/src/main.ts',
          benchHqEnv(tls, { kafkaEnv: kafka.serviceEnv('hq'), prefix, databaseUrl: db.url, port }, { HQ_ROLES: role, OFFLINE_AFTER_SECONDS: '600' }),
          `https://127.0.0.1:${port}/readyz`,
          { logFile: join(logDir, `tillstream-bench-chain-hq-${role}-${n}.log`), readyHeaders: viewer },
        ),
      );
    }
    const hqUrls = HQ_LAYOUT.filter((p) => p.role === 'all' || p.role === 'api').map((p) => `https://127.0.0.1:${p.port}`);
    // Every store identity once (the largest size's); a size plays the first n of them on a business day of its own.
    const allIds = chainStoreIds(Math.max(...SIZES), 'B');
    const provisioned = performance.now();
    const everyStore = await provisionChain({ db: pool, ca: tls.ca, storeIds: allIds });
    provisionS = (performance.now() - provisioned) / 1000;
    for (const [n, size] of SIZES.entries()) {
      const stores = everyStore.slice(0, size);
      const storeIds = allIds.slice(0, size);
      const businessDay = new Date(Date.now() - (n + 1) * 86_400_000).toISOString().slice(0, 10);

      // Freshness: one transaction in every 20th acknowledged batch, polled for in HQ's transaction view.
      const samples = new Map<string, number>();
      const freshness: number[] = [];
      let acked = 0;
      const backlog: number[] = [];
      let tally: ChainTally | undefined;
      let stop = false;
      let stoppedAt = Infinity;
      const poller = (async () => {
        while (!stop || samples.size > 0) {
          if (samples.size > 0) {
            const ids = [...samples.keys()];
            const { rows } = await pool.query<{ transaction_id: string }>('SELECT transaction_id FROM hq_transactions WHERE transaction_id = ANY($1::uuid[])', [ids]);
            const now = performance.now();
            for (const r of rows) {
              freshness.push(now - samples.get(r.transaction_id)!);
              samples.delete(r.transaction_id);
            }
          }
          if (tally) backlog.push(tally.backlogRecords);
          if (stop && performance.now() > stoppedAt + DRAIN_S * 1000) break;
          await sleep(250);
        }
      })();
      const cpuBefore = await hqCpu();
      const bar = progressBar(`${size} stores (${profile.name}, ${HOURS} h of trading at ${SPEED}x): records acknowledged`);
      const daySeconds = (DEFAULT_SHAPE.tradingHours * 3600) / SPEED;
      const started = performance.now();
      let closedAt = NaN;
      const result = await simulateChain({
        hqUrl: hqUrls,
        stores,
        businessDay,
        profile,
        playedHours: HOURS,
        daySeconds,
        drainTimeoutMs: DRAIN_S * 1000,
        seed: n + 1,
        onProgress: (t) => {
          tally = t;
          if (Number.isNaN(closedAt) && performance.now() - started >= (HOURS * 3600 * 1000) / SPEED) closedAt = performance.now();
          bar.tick(t.acknowledgedRecords, `backlog ${t.backlogRecords}, deferred ${JSON.stringify(t.deferred)}, stores done ${t.storesDone}/${t.stores}`);
        },
        onAcknowledged: (_store, batch, sentAt) => {
          if (acked++ % 20 !== 0) return;
          const tx = batch.records.find((r) => r.stream === 'transaction');
          if (tx) samples.set(tx.key, sentAt);
        },
      });
      bar.done();
      const closed = Number.isNaN(closedAt) ? started + (HOURS * 3600 * 1000) / SPEED : closedAt;
      const endedAt = performance.now();
      tally = result.tally;
      stop = true;
      stoppedAt = performance.now();
      // The views and the reconciler, given the drain to catch up.
      const viewsBar = progress(`${size} stores: HQ's views and reconciliation catching up (transactions)`, result.tally.generated.transactions);
      let viewsCaughtUpS = NaN;
      const deadline = performance.now() + DRAIN_S * 1000;
      let lags: number[] = [];
      let pending = size;
      for (;;) {
        const inViews = await count(pool, 'SELECT count(*) AS n FROM hq_transactions WHERE store_id = ANY($1::text[]) AND business_day = $2', [storeIds, businessDay]);
        viewsBar.tick(inViews);
        if (inViews >= result.tally.generated.transactions && Number.isNaN(viewsCaughtUpS)) viewsCaughtUpS = (performance.now() - endedAt) / 1000;
        const { rows } = await pool.query<{ lag: string | null; status: string }>(
          'SELECT extract(epoch FROM verified_at - received_at) AS lag, status FROM hq_manifests WHERE store_id = ANY($1::text[]) AND business_day = $2',
          [storeIds, businessDay],
        );
        lags = rows.filter((r) => r.status !== 'pending' && r.lag !== null).map((r) => Number(r.lag));
        pending = size - lags.length;
        if ((!Number.isNaN(viewsCaughtUpS) && pending === 0) || performance.now() > deadline) break;
        await sleep(500);
      }
      viewsBar.done();
      const hqCpuMs = (await hqCpu()) - cpuBefore;
      await poller;
      results.push({
        stores: size,
        tally: result.tally,
        playS: (closed - started) / 1000,
        drainS: result.tally.backlogRecords === 0 && result.tally.abandonedRecords === 0 ? (endedAt - closed) / 1000 : NaN,
        hqCpuMs,
        freshness,
        reconcileLagS: lags,
        pendingManifests: pending,
        backlog,
        viewsCaughtUpS,
      });
    }
    // What the played store-days left in HQ's database (rows, and bytes with indexes and TOAST).
    const tables = ['hq_transactions', 'hq_sales_aggregates', 'hq_inventory_levels', 'hq_inventory_alerts', 'hq_batches', 'hq_manifests'];
    await pool.query('VACUUM ANALYZE ' + tables.join(', '));
    storage = (
      await pool.query<{ table: string; rows: string; bytes: string }>(
        `SELECT t AS table, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', t), false, true, '')))[1]::text AS rows, coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(t::regclass)), pg_total_relation_size(t)) AS bytes FROM unnest($1::text[]) AS t`,
        [tables],
      )
    ).rows.map((r) => ({ table: r.table, rows: Number(r.rows), bytes: Number(r.bytes) }));
  } finally {
    for (const p of hq) await stopProcess(p);
    await pool.end();
    await tls.close();
    await db.drop();
    await deleteTopics(admin, hqTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
  }

  const storeDays = (stores: number) => (stores * HOURS) / DEFAULT_SHAPE.tradingHours;
  const first = results[0];
  const playedStoreDays = results.reduce((n, r) => n + storeDays(r.stores), 0);
  const perStoreDay = first ? first.tally.generated.records / storeDays(first.stores) : NaN;
  return [
    `${PROFILE} profile (BENCH_CHAIN_PROFILE): each store trades ${HOURS} h (BENCH_CHAIN_HOURS) of a ${DEFAULT_SHAPE.transactions.toLocaleString('en')}-sale, ${DEFAULT_SHAPE.tradingHours}-hour day at ${SPEED}x real time (BENCH_CHAIN_SPEED),`,
    `then closes and sends its manifest; ~${Math.round(perStoreDay).toLocaleString('en')} records per store-day generated. ${describeLayout()}, HQ CPU from /proc (every HQ process).`,
    `${Math.max(...SIZES)} store identities (client certificate + token each) provisioned in ${provisionS.toFixed(1)} s; each size plays the first n on a business day of its own.`,
    `Load average ${loadAtStart.toFixed(1)} on ${availableParallelism()} cores when the run began (a loaded machine's figures are indicative only). HQ "kept up" when the stores' backlog did not grow over the second half of the play and everything was acknowledged within ${DRAIN_S} s of the close (BENCH_CHAIN_DRAIN_S).`,
    table(
      results.map((r) => {
        const half = r.backlog.slice(Math.floor(r.backlog.length / 4), Math.floor((r.backlog.length * 3) / 4));
        const growing = half.length > 2 && half[half.length - 1]! > 2 * Math.max(1, half[0]!) + 2000;
        const seconds = r.playS + (Number.isNaN(r.drainS) ? DRAIN_S : r.drainS);
        const deferred = Object.entries(r.tally.deferred).map(([s, n]) => `${n}x${s}`).join(' ') || '0';
        return {
          stores: r.stores,
          'records/s': Math.round(r.tally.acknowledgedRecords / seconds),
          'batches/s': Math.round(r.tally.acknowledgedBatches / seconds),
          'offered rec/s': Math.round(r.tally.generated.records / r.playS),
          // CPU per record HQ absorbed, times the records a store-day is: what a store-day costs HQ whether or not it kept up.
          'HQ CPU s/store-day': ((r.hqCpuMs / 1000 / Math.max(1, r.tally.acknowledgedRecords)) * (r.tally.generated.records / storeDays(r.stores))).toFixed(1),
          'HQ us/record': Math.round((r.hqCpuMs * 1000) / Math.max(1, r.tally.acknowledgedRecords)),
          'fresh p50/p99 s': `${(percentile(r.freshness, 50) / 1000).toFixed(1)}/${(percentile(r.freshness, 99) / 1000).toFixed(1)}`,
          'reconcile p50/p99 s': `${percentile(r.reconcileLagS, 50).toFixed(1)}/${percentile(r.reconcileLagS, 99).toFixed(1)}`,
          'backlog max': Math.max(0, ...r.backlog),
          'deferred': deferred,
          'kept up': !growing && !Number.isNaN(r.drainS) && r.pendingManifests === 0 ? `yes (drained ${r.drainS.toFixed(0)} s)` : `NO (${growing ? 'backlog grew; ' : ''}${r.tally.abandonedRecords} left, ${r.pendingManifests} days unverified)`,
        };
      }),
    ),
    `HQ's database per store-day (${playedStoreDays.toFixed(1)} store-days played in all; levels are per SKU, updated in place, not per day):`,
    table(storage.map((t) => ({ table: t.table, 'rows/store-day': Math.round(t.rows / playedStoreDays), 'MB/store-day': (t.bytes / 1e6 / playedStoreDays).toFixed(2), 'bytes/row': Math.round(t.bytes / Math.max(1, t.rows)) }))),
  ].join('\n');
}
