import { Command, InvalidArgumentError, Option } from 'commander';
import { Identifier } from '@tillstream/contracts';
import { createPool, issueTerminalToken, lastSequenceNumbers, migrate } from '@tillstream/db';
import { createLogger, progressBar } from '@tillstream/observability';
import { simulate, type SimulatedStore, type Tally } from '@tillstream/simulator';
import { cliEnv } from '../env.ts';
import { storeDatabaseUrl } from './terminal.ts';

function positive(what: string, integer = false) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${what} must be a positive ${integer ? 'integer' : 'number'}`);
    return n;
  };
}

function share(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be between 0 and 1');
  return n;
}

/** --sweetheart OP3=0.15: an operator and the share of their transactions that are sweethearting. */
export function sweetheart(value: string): { operatorId: string; rate: number } {
  const match = /^(OP[1-4])=([0-9.]+)$/.exec(value);
  const rate = match ? Number(match[2]) : NaN;
  if (!match || !Number.isFinite(rate) || rate <= 0 || rate > 1) throw new InvalidArgumentError('must be OP1..OP4=<share between 0 and 1>, e.g. OP3=0.15');
  return { operatorId: match[1]!, rate };
}

/** --store S001=http://127.0.0.1:8080, repeatable. */
function storeTarget(value: string, previous: Array<{ storeId: string; ingestUrl: string }> = []) {
  const [storeId, url = 'http://127.0.0.1:8080'] = value.split('=');
  if (!Identifier.safeParse(storeId).success) throw new InvalidArgumentError(`store "${storeId}" is not a valid id`);
  try {
    new URL(url);
  } catch {
    throw new InvalidArgumentError(`"${url}" is not a URL (expected <store>=<ingest URL>)`);
  }
  return [...previous, { storeId: storeId!, ingestUrl: url.replace(/\/$/, '') }];
}

/**
 * Readies a store's simulated tills: a fresh token for each terminal in the
 * store's database (as `terminal add` would) and the last sequence number
 * ingest accepted from it, so a till goes on numbering where it left off.
 */
export async function provisionTills(storeId: string, terminals: string[], databaseUrl: string | undefined): Promise<Pick<SimulatedStore, 'tokens' | 'lastSequence'>> {
  const logger = createLogger({ name: 'cli', level: 'warn' });
  const connectionString = storeDatabaseUrl(storeId, databaseUrl);
  await migrate({ databaseUrl: connectionString, target: 'store', logger });
  const pool = createPool({ connectionString, logger, applicationName: 'tillstream-simulate', max: 1 });
  try {
    const tokens: Record<string, string> = {};
    for (const terminalId of terminals) tokens[terminalId] = await issueTerminalToken(pool, { storeId, terminalId });
    return { tokens, lastSequence: await lastSequenceNumbers(pool, storeId) };
  } finally {
    await pool.end();
  }
}

function summary(tally: Tally, elapsedMs: number): string {
  const rejected = Object.entries(tally.rejected).map(([status, n]) => `${n} x ${status}`);
  return [
    `simulated for ${(elapsedMs / 1000).toFixed(1)} s:`,
    `  sent       ${tally.sent} (${tally.viaBatch} as offline backlogs through /v1/transactions/batch)`,
    `  accepted   ${tally.accepted} (201)`,
    `  replayed   ${tally.replayed} (200: ingest had them already)`,
    `  rejected   ${rejected.length ? rejected.join(', ') : 0}`,
    `  retries    ${tally.retries} (503, 429, 409 or no answer; each retried under its own transactionId)`,
    `  abandoned  ${tally.abandoned} (still unconfirmed when the run stopped)`,
  ].join('\n');
}

interface SimulateOptions {
  mode: 'synthetic' | 'replay';
  store?: Array<{ storeId: string; ingestUrl: string }>;
  terminals: number;
  rate: number;
  duration?: number;
  count?: number;
  speed: number;
  shiftToToday?: boolean;
  returns: number;
  voids: number;
  training: number;
  offline: number;
  offlineSeconds: number;
  skewSeconds: number;
  timeZone: string;
  seed: number;
  sweetheart?: { operatorId: string; rate: number };
  databaseUrl?: string;
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description(
      `simulated POS terminals posting to each store's ingest, until --duration, --count or Ctrl-C.

synthetic: baskets of the bakery's items weighted by their real sales, cash and card,
  returns, post-voids, training transactions, terminal clock skew, and terminals that
  go offline and later upload their backlog through the batch endpoint.
replay: the bakery's real log (../shared/data/bakery-transactions.csv, 9,531 transactions
  over 159 days) at --speed times real time.

Terminal tokens are issued in each store's database (as \`terminal add\` would: it
rotates the terminals' earlier tokens). Ctrl-C stops ringing up, sends what the tills
hold, and prints the summary; a second Ctrl-C abandons the rest.`,
    )
    .addOption(new Option('--mode <mode>', 'synthetic traffic or replay of the bakery log').choices(['synthetic', 'replay']).default('synthetic'))
    .option('--store <id=url>', 'a store and its ingest URL; repeat for several stores', storeTarget)
    .option('--terminals <n>', 'terminals per store (synthetic; replay uses the log\'s T01 and T02)', positive('--terminals', true), 3)
    .option('--rate <tx/s>', 'transactions per second per store (synthetic)', positive('--rate'), 2)
    .option('--duration <seconds>', 'stop after this long', positive('--duration'))
    .option('--count <n>', 'stop after this many transactions per store', positive('--count', true))
    .option('--speed <factor>', 'replay: log time per wall-clock time (3600 = an hour of trading per second)', positive('--speed'), 3600)
    .option('--shift-to-today', 'replay: move the log forward so that its last day is today')
    .option('--returns <share>', 'synthetic: share of returns', share, 0.02)
    .option('--voids <share>', 'synthetic: share of post-voids', share, 0.01)
    .option('--training <share>', 'synthetic: share of training-mode transactions', share, 0.01)
    .option('--offline <share>', 'synthetic: chance per transaction that its terminal then goes offline', share, 0.002)
    .option('--offline-seconds <s>', 'synthetic: how long an offline terminal stays offline', positive('--offline-seconds'), 20)
    .option('--skew-seconds <s>', 'synthetic: terminal clocks are off by up to this much', positive('--skew-seconds'), 5)
    .option('--time-zone <tz>', "the stores' time zone (business days)", cliEnv.STORE_TIME_ZONE)
    .option('--sweetheart <operator=share>', 'synthetic: plant a sweethearting operator (loss-prevention demo): on that share of their transactions OP1..OP4 rings a no-sale, a post-void or a refund of their own sale, or a return without receipt', sweetheart)
    .option('--seed <n>', 'random seed (same seed, same traffic)', positive('--seed', true), 1)
    .option('--database-url <url>', 'store database for the tokens (one store only; default tillstream_store_<store> on POSTGRES_URL)')
    .action(async (opts: SimulateOptions) => {
      const targets = opts.store ?? storeTarget('S001=http://127.0.0.1:8080');
      if (opts.databaseUrl && targets.length > 1) throw new Error('--database-url names one store database; with several stores leave it out');
      try {
        new Intl.DateTimeFormat('en', { timeZone: opts.timeZone });
      } catch {
        throw new Error(`--time-zone "${opts.timeZone}" is not a time zone`);
      }
      const terminals = opts.mode === 'replay' ? ['T01', 'T02'] : Array.from({ length: opts.terminals }, (_, i) => `T${String(i + 1).padStart(2, '0')}`);
      const stores: SimulatedStore[] = [];
      for (const t of targets) stores.push({ ...t, ...(await provisionTills(t.storeId, terminals, opts.databaseUrl)) });

      const controller = new AbortController();
      let interrupts = 0;
      const onSignal = () => {
        interrupts += 1;
        if (interrupts === 1) {
          process.stderr.write('\nstopping: sending what the tills hold (Ctrl-C again to abandon it)\n');
          controller.abort();
        } else process.exit(130);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const bar = progressBar(`simulating ${stores.map((s) => s.storeId).join(', ')}`);
      const warnings = new Map<string, number>();
      const { tally, elapsedMs } = await simulate({
        ...(opts.mode === 'replay'
          ? { mode: 'replay', speed: opts.speed, shiftToToday: opts.shiftToToday ?? false }
          : {
              mode: 'synthetic',
              rate: opts.rate,
              returnRate: opts.returns,
              voidRate: opts.voids,
              trainingRate: opts.training,
              offlineRate: opts.offline,
              offlineMs: opts.offlineSeconds * 1000,
              maxSkewMs: opts.skewSeconds * 1000,
              timeZone: opts.timeZone,
              seed: opts.seed,
              ...(opts.sweetheart ? { sweetheart: opts.sweetheart } : {}),
            }),
        stores,
        count: opts.count,
        durationMs: opts.duration === undefined ? undefined : opts.duration * 1000,
        signal: controller.signal,
        onProgress: (t) => bar.tick(t.sent, `accepted ${t.accepted}, replayed ${t.replayed}, rejected ${Object.values(t.rejected).reduce((a, b) => a + b, 0)}, retries ${t.retries}`),
        onRejected: (storeId, tx, status, detail) => {
          // The first few of each kind are worth reading; the rest are counted.
          const key = `${status} ${detail}`;
          const seen = (warnings.get(key) ?? 0) + 1;
          warnings.set(key, seen);
          if (seen <= 3) process.stderr.write(`\n${storeId}/${tx.terminalId} transaction ${tx.transactionId} refused: ${status} ${detail}\n`);
        },
      });
      bar.done();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      console.log(summary(tally, elapsedMs));
      if (tally.abandoned > 0) process.exitCode = 1;
    });
}
