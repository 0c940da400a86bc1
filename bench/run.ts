import { cardScanBench } from './card-scan.ts';
import { chainBench } from './chain.ts';
import { durability } from './durability.ts';
import { edgeBench } from './edge.ts';
import { fairnessBench } from './fairness.ts';
import { forecastBench } from './forecast.ts';
import { ingestBench } from './ingest.ts';
import { inventoryBench, trendsBench } from './consumers.ts';
import { syncBench } from './sync.ts';
import { startupBench } from './startup.ts';
import { syncCutBench } from './sync-cut.ts';
import { hqStorageBench } from './hq-storage.ts';
import { uploadBench } from './upload.ts';
import { machine, runInterruptCleanups, withInfra } from './harness.ts';

const BENCHES: Record<string, { about: string; run: () => Promise<string> }> = {
  durability: {
    about: 'cost of flush.messages=1 (fsync per append) on pos.transactions vs the page-cache baseline',
    run: () => durability({ records: Number(process.env.BENCH_RECORDS ?? 5000) }),
  },
  edge: {
    about: "the JSON edge's cost per body (text rules, card numbers, duplicate keys) vs JSON.parse alone, in process",
    run: () => edgeBench(),
  },
  'card-scan': {
    about: 'the card-number scan per MiB (normalised, every window, IIN) vs the older check; how often it refuses legitimate look-alikes',
    run: () => cardScanBench(),
  },
  ingest: {
    about: 'ingest vs an express no-op and raw kafkajs: single POSTs (max and fixed 500/s), batch endpoint; single POSTs and batches again over HTTPS (keep-alive) beside plain HTTP',
    run: () => ingestBench(),
  },
  fairness: {
    about: "five terminals' p99 alone and while a sixth floods batches, budgets on vs off; card-number scanning cost per 1 MiB body",
    run: () => fairnessBench(),
  },
  inventory: {
    about: 'ledger catch-up from offset 0 beside the Kafka Streams peer and raw PostgreSQL inserts (lines/s, CPU/line of service, PostgreSQL, broker); freshness from 201 to the level in the store API',
    run: () => inventoryBench(),
  },
  trends: {
    about: 'sales windows catch-up from offset 0 beside the Kafka Streams peer and raw PostgreSQL inserts (lines/s, CPU/line of service, PostgreSQL, broker); freshness from 201 to the sale in the summary',
    run: () => trendsBench(),
  },
  sync: {
    about: "a week's backlog (50,000 transactions and their aggregates) drained from a store to HQ vs HQ's plain batch-apply rate",
    run: () => syncBench(),
  },
  startup: {
    about: "each service's time from spawn to /healthz and its memory then, from TypeScript under tsx vs the built JavaScript under node (npm run build first)",
    run: () => startupBench(),
  },
  chain: {
    about: 'a real HQ absorbing 100 / 300 / 1,000 simulated stores (BENCH_CHAIN_SIZES): records/s, HQ CPU per store-day, view freshness, reconciliation lag, kept up or not',
    run: () => chainBench(),
  },
  'sync-cut': {
    about: 'cutting the sync outbox into batches capped in bytes vs by count alone; what the stored byte size adds to outbox writes',
    run: () => syncCutBench(),
  },
  'hq-storage': {
    about: "what one store-day (3,000 transactions x 3 lines, 2,000 SKUs) occupies in HQ's PostgreSQL (rows, bytes per table) and HQ's topics",
    run: () => hqStorageBench(),
  },
  forecast: {
    about: "demand forecasts (packages/forecast) on the bakery's real log: rolling-origin backtest, WAPE and MASE per SKU and overall vs seasonal naive and the 4-week weekday mean (top 20 SKUs)",
    run: () => forecastBench(),
  },
  upload: {
    about: 'one store-day uploaded to HQ as before (every revision, every granularity, a batch per sweep) vs coalesced: records, batches, bytes and HQ CPU per store-day',
    run: () => uploadBench(),
  },
};

const HELP = `Usage: npm run bench -- [name ...]

Runs benchmarks against the real local infrastructure (started if needed,
stopped afterwards) and prints each figure beside its baseline from the same run.

Benchmarks:
${Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(12)} ${b.about}`).join('\n')}

With no name, runs them all. Results and how to reproduce them: BENCHMARKS.md.
`;

async function main(names: string[]): Promise<void> {
  if (names.includes('--help') || names.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const unknown = names.filter((n) => !BENCHES[n]);
  if (unknown.length) throw new Error(`unknown benchmark(s): ${unknown.join(', ')}\n\n${HELP}`);
  const selected = names.length ? names : Object.keys(BENCHES);
  await withInfra(async () => {
    for (const name of selected) {
      console.log(`\n== ${name} (${machine()}, ${new Date().toISOString()})`);
      console.log(await BENCHES[name]!.run());
    }
  });
}

// Ctrl-C or SIGTERM: stop what the benches started and remove what they created, then exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, cleaning up`);
    void runInterruptCleanups().finally(() => process.exit(130));
  });
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
