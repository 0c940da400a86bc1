import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseEnv, postgresServerEnv } from '@tillstream/config';
import { deadLetterTopicName, storeTopics, topicName } from '@tillstream/contracts';
import { createPool, databaseUrl, dropDatabase, ensureDatabase, issueTerminalToken, issueUserToken, migrate } from '@tillstream/db';
import { containsCardNumber, findCardNumber, luhnValid } from '@tillstream/http';
import { CLUSTER_PROFILES, deleteTopics, ensureTopics } from '@tillstream/kafka';
import { createLogger } from '@tillstream/observability';
import { makeTransaction, startProcess, stopProcess } from '@tillstream/testing';
import { percentile, table } from './harness.ts';
import { openModelLoad, type OpenModelResult } from './open-model.ts';
import { localKafka } from './kafka.ts';
import { FLOOD_BATCH, type FloodResult } from './flood.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const SERVER = parseEnv(postgresServerEnv, process.env).POSTGRES_URL;
const SELLERS = 5;
/** Sales per second of each of the five: a busy till sells every few seconds; 10/s each is a generous upper bound. */
const SELLER_RATE = 10;
const FLOOD_CONNECTIONS = 8;
const PORTS = { fair: 18090, unlimited: 18091 };

const sale = (terminal: number) => JSON.stringify(makeTransaction([{ sku: 'BREAD', quantity: 2, unitPrice: 180 }, { sku: 'COFFEE', unitPrice: 250 }], { terminalId: `T${terminal + 1}` }));
interface Flood extends FloodResult {
  /** Transactions the flooder had accepted per second (2xx batches x FLOOD_BATCH). */
  acceptedPerSecond: number;
}

/** One terminal posting batches as fast as it can on FLOOD_CONNECTIONS connections, from its own process (bench/flood.ts). */
async function flood(url: string, token: string, seconds: number): Promise<Flood> {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', fileURLToPath(new URL('./flood.ts', import.meta.url)), url, token, String(seconds), String(FLOOD_CONNECTIONS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the flooding terminal's process exited with ${code}`);
  const result = JSON.parse(out) as FloodResult;
  return { ...result, acceptedPerSecond: Math.round(((result.statuses['200'] ?? 0) * FLOOD_BATCH) / seconds) };
}

/** The five sellers at a fixed rate (open model), one terminal per request in turn. */
function sellers(url: string, tokens: string[], seconds: number): Promise<OpenModelResult> {
  return openModelLoad({
    url: `${url}/v1/transactions`,
    rate: SELLERS * SELLER_RATE,
    seconds,
    headers: { 'content-type': 'application/json' },
    headersOf: (i) => ({ authorization: `Bearer ${tokens[i % SELLERS]}` }),
    body: (i) => sale(i % SELLERS),
  });
}

/** Median of `runs` timings of `fn`, in ms, after one warm-up. */
function timeMs(fn: () => void, runs = 7): number {
  fn();
  return percentile(Array.from({ length: runs }, () => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  }), 50);
}

/** An older card-number check (a regular expression, a match object and a copy per digit run; single spaces and dashes only, no IIN): the peer of the scan cost. */
export function regexScan(text: string): boolean {
  if (text.length < 13 || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) return false;
  for (const match of text.matchAll(/\d(?:[ -]?\d)*/g)) {
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
  }
  return false;
}

/** Card-number scanning of a 1 MiB batch body, by content: the event loop is blocked this long per request. */
function scanCost(): Array<Record<string, string | number>> {
  const MB = 1024 * 1024;
  const fill = (unit: string) => unit.repeat(Math.ceil(MB / 500 / unit.length)).slice(0, MB / 500 - 24);
  const bodyOf = (unit: string) => JSON.parse(JSON.stringify({ transactions: Array.from({ length: 500 }, () => ({ description: fill(unit) })) })) as unknown;
  const cases: Array<[string, unknown]> = [
    ['letters only', bodyOf('abcdefgh')],
    ['"1 -1 -" (a digit run per 3 characters)', bodyOf('1 -')],
    ['"1 1 1 1" (one long grouped run)', bodyOf('1 ')],
    ['Luhn-invalid 16-digit runs', bodyOf('4111111111111112x')],
    ['"5555" (one run in an IIN range: every window summed)', bodyOf('5')],
    ['Arabic-Indic digits and NBSP (NFKC, Unicode digits)', bodyOf('\u0664\u0661\u0661\u00a0')],
    ['12-digit runs', bodyOf('123456789012 ')],
    ['13-character strings', JSON.parse(JSON.stringify({ t: Array.from({ length: MB / 16 }, () => '1234567890123') })) as unknown],
    ['16-digit numbers', JSON.parse(JSON.stringify({ t: Array.from({ length: MB / 17 }, () => 4111111111111112) })) as unknown],
  ];
  const stringsOf = (value: unknown): string[] =>
    typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(stringsOf) : [];
  return cases.map(([name, body]) => {
    const strings = stringsOf(body);
    const walk = timeMs(() => findCardNumber(body));
    const now = timeMs(() => strings.forEach((t) => containsCardNumber(t)));
    const before = timeMs(() => strings.forEach((t) => regexScan(t)));
    return { '1 MiB body': name, 'body walk ms (parser, today)': Math.round(walk * 10) / 10, 'strings: one-pass ms': Math.round(now * 10) / 10, 'strings: regex ms (before)': Math.round(before * 10) / 10 };
  });
}

/**
 * Fairness: the p99 of five terminals selling normally, alone and while a
 * sixth floods batch requests as fast as it can, with the per-terminal
 * budgets on (the defaults) and, as the peer from the same run, with them
 * off; and what card-number scanning costs per 1 MiB body.
 */
export async function fairnessBench(): Promise<string> {
  const logger = createLogger({ name: 'bench', level: 'warn' });
  const dbName = `bench_${randomUUID().slice(0, 8)}`;
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  await ensureDatabase(SERVER, dbName);
  const dbUrl = databaseUrl(SERVER, dbName);
  await migrate({ databaseUrl: dbUrl, target: 'store', logger });
  const pool = createPool({ connectionString: dbUrl, logger, applicationName: 'bench', max: 1 });
  const tokens = await Promise.all(Array.from({ length: SELLERS + 1 }, (_, i) => issueTerminalToken(pool, { storeId: 'S001', terminalId: `T${i + 1}` })));
  // /readyz wants a store viewer's token.
  const viewer = await issueUserToken(pool, { name: 'bench', role: 'store-viewer' });
  await pool.end();
  // Provisioned as a store is: topics by the admin, ingest as its own principal.
  const cluster = localKafka('store');
  await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka: cluster.client('bench-provision'), logger, prefix, specs: storeTopics });
  await cluster.grant('store', prefix);
  const env = { STORE_ID: 'S001', DATABASE_URL: dbUrl, TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn', ...cluster.serviceEnv('ingest') };
  const unlimited = {
    TERMINAL_RATE_PER_SECOND: '1000000',
    TERMINAL_RATE_BURST: '1000000',
    TERMINAL_TRANSACTIONS_PER_SECOND: '1000000000',
    TERMINAL_TRANSACTIONS_BURST: '1000000000',
    TERMINAL_BYTES_PER_SECOND: '1000000000',
    TERMINAL_BYTES_BURST: '1000000000',
    MAX_IN_FLIGHT_PER_TERMINAL: '10000',
    TERMINAL_REFUSAL_DELAY_MS: '0',
  };
  const rows: Array<Record<string, string | number>> = [];
  const row = (run: string, s: OpenModelResult, f?: Flood) =>
    rows.push({
      run,
      'five: p50 ms': s.p50,
      'five: p99 ms': s.p99,
      'five: max ms': s.max,
      'five: non-2xx': s.non2xx + s.errors,
      'flooder: requests': f?.requests ?? '-',
      'flooder: statuses': f ? Object.entries(f.statuses).map(([c, n]) => `${c}x${n}`).join(' ') : '-',
      'flooder: accepted tx/s': f?.acceptedPerSecond ?? '-',
    });
  const ratios: string[] = [];
  try {
    for (const [name, limits] of [['budgets on (defaults)', {}], ['budgets off (peer)', unlimited]] as const) {
      const port = name.startsWith('budgets on') ? PORTS.fair : PORTS.unlimited;
      const ingest = await startProcess('services/ingest/src/main.ts', { ...env, ...limits, PORT: String(port) }, `http://127.0.0.1:${port}/readyz`, { readyHeaders: { authorization: `Bearer ${viewer}` } });
      const url = `http://127.0.0.1:${port}`;
      try {
        await sellers(url, tokens, 3); // warm-up: JIT, pools, producer metadata
        const alone = await sellers(url, tokens, DURATION_S);
        row(`${name}: the five alone`, alone);
        const [loaded, flooded] = await Promise.all([sellers(url, tokens, DURATION_S), flood(url, tokens[SELLERS]!, DURATION_S)]);
        row(`${name}: the five while T6 floods`, loaded, flooded);
        ratios.push(`${name}: p99 under the flood / alone = ${(loaded.p99 / alone.p99).toFixed(1)}x`);
      } finally {
        await stopProcess(ingest);
      }
    }
    return `${table(rows)}\n\n${ratios.join('\n')}\n\nCard-number scanning per 1 MiB body, median of 7 (the walk includes numbers and keys; the string columns time only the string check, one-pass vs the regular expression it replaced):\n${table(scanCost())}`;
  } finally {
    const kafka = cluster.client('bench-cleanup');
    await deleteTopics(kafka, storeTopics.flatMap((spec) => [topicName(prefix, spec), deadLetterTopicName(topicName(prefix, spec))]));
    await dropDatabase(SERVER, dbName);
  }
}
