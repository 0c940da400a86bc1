import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BusinessDay, Granularity, Identifier } from '@tillstream/contracts';
import { progressBar } from '@tillstream/observability';
import { DEFAULT_SHAPE, PROFILES, chainStoreIds, provisionChain, simulateChain, type ChainTally, type TrafficProfile } from '@tillstream/simulator';
import { cliEnv } from '../env.ts';
import { readChainCa } from './certs.ts';
import { withHqDb } from './store.ts';

function positive(what: string, integer = false) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${what} must be a positive ${integer ? 'integer' : 'number'}`);
    return n;
  };
}

function granularities(value: string): Granularity[] {
  const list = value.split(',').map((g) => g.trim());
  for (const g of list) if (!Granularity.safeParse(g).success) throw new InvalidArgumentError(`"${g}" is not a granularity (${Granularity.options.join(', ')})`);
  return list as Granularity[];
}

function yesterday(): string {
  return new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
}

/** One line of what the chain did: the progress display's tail and the summary's first line. */
export function chainLine(t: ChainTally): string {
  const deferred = Object.entries(t.deferred).map(([status, n]) => `${n} x ${status}`).join(', ') || 'none';
  return `stores done ${t.storesDone}/${t.stores}, acknowledged ${t.acknowledgedRecords} records in ${t.acknowledgedBatches} batches, backlog ${t.backlogRecords}, deferred ${deferred}`;
}

export function chainSummary(t: ChainTally, elapsedMs: number): string {
  const s = elapsedMs / 1000;
  const g = t.generated;
  return [
    `simulated ${t.stores} stores for ${s.toFixed(1)} s:`,
    `  generated   ${g.records} records (${g.transactions} transactions, ${g.aggregates} window revisions, ${g.levels} stock levels, ${g.alerts} alerts) in ${g.batches} batches, ${(g.bytes / 1e6).toFixed(1)} MB of records`,
    `  acknowledged ${t.acknowledgedRecords} records, ${t.acknowledgedBatches} batches (${t.replayedBatches} replayed): ${Math.round(t.acknowledgedRecords / s)} records/s, ${Math.round(t.acknowledgedBatches / s)} batches/s`,
    `  deferred    ${Object.entries(t.deferred).map(([status, n]) => `${n} x ${status}`).join(', ') || 0} (HQ asked for ${(t.retryAfterMs / 1000).toFixed(1)} s of Retry-After in all)`,
    `  rejected    ${t.rejectedBatches} batches`,
    `  heartbeats  ${t.heartbeats}`,
    `  manifests   ${t.manifests} (${Object.entries(t.manifestStatus).map(([status, n]) => `${n} ${status}`).join(', ') || 'none'}), replay requests ${t.replayRequests}`,
    `  abandoned   ${t.abandonedRecords} records (unacknowledged when the run stopped)`,
  ].join('\n');
}

interface ChainCommandOptions {
  hqUrl: string;
  stores: number;
  storePrefix: string;
  profile: string;
  granularities?: Granularity[];
  coalesceSeconds?: number;
  batchMin?: number;
  batchMax?: number;
  flushSeconds?: number;
  transactions: number;
  terminals: number;
  skus: number;
  lines: number;
  daySeconds: number;
  hours?: number;
  businessDay: string;
  heartbeatSeconds: number;
  drainSeconds: number;
  seed: number;
  databaseUrl?: string;
  certsDir: string;
  hqCaFile?: string;
  json?: boolean;
}

export function simulateChainCommand(): Command {
  return new Command('simulate-chain')
    .description(
      [
        "plays N stores' sync clients against a running HQ, without their store stacks: each store trades a day (time compressed: --day-seconds), uploads its outbox batches (transactions, sales-window revisions, stock levels, alerts) with sync's idempotency keys over its own mutual-TLS connection, one request in flight, honouring Retry-After; heartbeats while trading, and sends its day manifest once HQ has it all.",
        '',
        "Each store is a real HQ identity: a client certificate from the chain CA (--certs-dir, as `store add`) and a token, provisioned in HQ's database in one statement per kind (re-running rotates them).",
        '',
        'Profiles: today: every revision of every window (5m, 1h, day) and level, in 10-30-record batches. coalesced: the latest revision per key every 5 store minutes, day windows only, batches of up to 2,000. Each knob can be overridden (--granularities, --coalesce-seconds, --batch-min, --batch-max, --flush-seconds). Ctrl-C stops the stores and prints the summary.',
      ].join('\n'),
    )
    .requiredOption('--hq-url <url>', "HQ's base URL (https://host:port)", (v) => {
      try {
        return new URL(v).toString().replace(/\/$/, '');
      } catch {
        throw new InvalidArgumentError(`"${v}" is not a URL`);
      }
    })
    .option('--stores <n>', 'how many stores', positive('--stores', true), 10)
    .option('--store-prefix <prefix>', 'store ids are <prefix>0001, <prefix>0002, ...', (v) => {
      if (!Identifier.safeParse(`${v}0001`).success || v.length > 20) throw new InvalidArgumentError('--store-prefix must be a few letters or digits');
      return v;
    }, 'C')
    .addOption(new Option('--profile <name>', 'what each store uploads').choices(Object.keys(PROFILES)).default('today'))
    .option('--granularities <list>', "aggregate windows uploaded, e.g. day,1h (default: the profile's)", granularities)
    .option('--coalesce-seconds <s>', "latest revision per key every s store seconds; 0 = every revision (default: the profile's)", (v) => (v === '0' ? 0 : positive('--coalesce-seconds')(v)))
    .option('--batch-min <n>', "smallest batch cut when records pile up (default: the profile's)", positive('--batch-min', true))
    .option('--batch-max <n>', "largest batch (default: the profile's)", positive('--batch-max', true))
    .option('--flush-seconds <s>', "what is pending is cut at least this often, in store seconds (default: the profile's)", positive('--flush-seconds'))
    .option('--transactions <n>', 'sales per store per trading day', positive('--transactions', true), DEFAULT_SHAPE.transactions)
    .option('--terminals <n>', 'terminals per store', positive('--terminals', true), DEFAULT_SHAPE.terminals)
    .option('--skus <n>', 'SKUs per store', positive('--skus', true), DEFAULT_SHAPE.skus)
    .option('--lines <n>', 'lines per sale', positive('--lines', true), DEFAULT_SHAPE.linesPerSale)
    .option('--day-seconds <s>', `wall seconds a whole ${DEFAULT_SHAPE.tradingHours}-hour trading day takes (${DEFAULT_SHAPE.tradingHours * 3600} = real time)`, positive('--day-seconds'), 600)
    .option('--hours <h>', 'trading hours played; each store then closes and sends its manifest (default: the whole day)', positive('--hours'))
    .option('--business-day <date>', 'the business day the stores trade (yesterday in UTC by default)', (v) => {
      if (!BusinessDay.safeParse(v).success) throw new InvalidArgumentError('--business-day must be YYYY-MM-DD');
      return v;
    }, yesterday())
    .option('--heartbeat-seconds <s>', 'heartbeat interval per store (wall seconds)', positive('--heartbeat-seconds'), 15)
    .option('--drain-seconds <s>', 'after its day, how long a store keeps trying to upload the rest (wall seconds)', positive('--drain-seconds'), 300)
    .option('--seed <n>', 'random seed', positive('--seed', true), 1)
    .option('--database-url <url>', "HQ's database, where the stores are provisioned (default: HQ_DATABASE_URL, else tillstream_hq on POSTGRES_URL)")
    .option('--certs-dir <dir>', 'where `tillstream certs` keeps the chain CA (default: CERTS_DIR, else ./certs)', cliEnv.CERTS_DIR)
    .option('--hq-ca-file <file>', "PEM CA of HQ's server certificate (default: the chain CA)")
    .option('--json', 'print {tally, elapsedMs, stores: [{storeId, transactions, netTotal, records, ...}]} as JSON instead of the summary')
    .action(async (opts: ChainCommandOptions) => {
      const base = PROFILES[opts.profile]!;
      const profile: TrafficProfile = {
        ...base,
        ...(opts.granularities ? { granularities: opts.granularities } : {}),
        ...(opts.coalesceSeconds === undefined ? {} : { coalesceSeconds: opts.coalesceSeconds }),
        ...(opts.batchMin === undefined ? {} : { batchMinRecords: opts.batchMin }),
        ...(opts.batchMax === undefined ? {} : { batchMaxRecords: opts.batchMax }),
        ...(opts.flushSeconds === undefined ? {} : { flushSeconds: opts.flushSeconds }),
      };
      if (profile.batchMinRecords > profile.batchMaxRecords) throw new Error(`--batch-min (${profile.batchMinRecords}) is larger than --batch-max (${profile.batchMaxRecords})`);
      if (profile.batchMaxRecords > 5000) throw new Error('--batch-max is at most 5000 (HQ takes no more records in one batch)');
      const shape = { ...DEFAULT_SHAPE, transactions: opts.transactions, terminals: opts.terminals, skus: opts.skus, linesPerSale: opts.lines };
      const ca = await readChainCa(opts.certsDir);
      const serverCa = opts.hqCaFile ? await readFile(opts.hqCaFile, 'utf8') : undefined;
      const storeIds = chainStoreIds(opts.stores, opts.storePrefix);
      const provisioning = performance.now();
      const stores = await withHqDb(opts.databaseUrl, (db) => provisionChain({ db, ca, storeIds, ...(serverCa ? { serverCa } : {}) }));
      process.stderr.write(`provisioned ${stores.length} stores (${storeIds[0]}..${storeIds[storeIds.length - 1]}) in ${((performance.now() - provisioning) / 1000).toFixed(1)} s\n`);

      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const bar = progressBar(`simulating ${stores.length} stores (${profile.name}), records acknowledged`);
      const rejected = new Map<string, number>();
      try {
        const result = await simulateChain({
          hqUrl: opts.hqUrl,
          stores,
          businessDay: opts.businessDay,
          profile,
          shape,
          daySeconds: opts.daySeconds,
          ...(opts.hours === undefined ? {} : { playedHours: opts.hours }),
          heartbeatSeconds: opts.heartbeatSeconds,
          drainTimeoutMs: opts.drainSeconds * 1000,
          seed: opts.seed,
          signal: controller.signal,
          onProgress: (t) => bar.tick(t.acknowledgedRecords, chainLine(t)),
          onRejected: (storeId, batchId, status, detail) => {
            const seen = (rejected.get(String(status)) ?? 0) + 1;
            rejected.set(String(status), seen);
            if (seen <= 3) process.stderr.write(`\n${storeId}: HQ refused batch ${batchId}: ${detail}\n`);
          },
        });
        bar.done();
        const { tally, elapsedMs } = result;
        console.log(opts.json ? JSON.stringify(result) : chainSummary(tally, elapsedMs));
        if (tally.abandonedRecords > 0 || tally.rejectedBatches > 0 || tally.storesDone < tally.stores) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
