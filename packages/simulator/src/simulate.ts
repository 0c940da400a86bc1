import type { PosTransactionInput } from '@tillstream/contracts';
import { bakeryTransactions } from './bakery.ts';
import { SyntheticStore, type SyntheticOptions } from './synthetic.ts';
import { TerminalClient, emptyTally, type Tally } from './terminal-client.ts';

export interface SimulatedStore {
  storeId: string;
  /** The store's ingest, e.g. http://127.0.0.1:8080. */
  ingestUrl: string;
  /** Bearer token of each terminal that rings up sales. */
  tokens: Record<string, string>;
  /** The last sequence number each terminal used (synthetic tills go on from there). */
  lastSequence?: Record<string, number>;
}

interface Common {
  stores: SimulatedStore[];
  /** Stop after this long (ms); default: until `signal` aborts (or the replay ends). */
  durationMs?: number;
  /** Stop ringing up (and finish sending) when this aborts: Ctrl-C. */
  signal?: AbortSignal;
  /** How long sending may go on after ringing up stopped (a backlog draining, ingest retried); then the rest is abandoned. Default 30 s. */
  drainMs?: number;
  /** Called about twice a second with the running tally. */
  onProgress?(tally: Tally, elapsedMs: number): void;
  onRejected?(storeId: string, tx: PosTransactionInput, status: number, detail: string): void;
  /**
   * Awaited before each transaction is rung up, in ringing order per store:
   * the demo's back office books the deliveries a sale needs
   * (`DemoBackOffice`). If it throws, the sale is rung up all the same (a
   * till never stops selling for the back office) and `onError` hears of it.
   */
  beforeRing?(storeId: string, tx: PosTransactionInput): Promise<unknown>;
  onError?(storeId: string, err: unknown): void;
}

export interface SyntheticRun extends Common, Omit<SyntheticOptions, 'storeId' | 'terminals'> {
  mode: 'synthetic';
  /** Transactions per second, per store. */
  rate: number;
  /** Stop after this many transactions per store. */
  count?: number;
}

export interface ReplayRun extends Common {
  mode: 'replay';
  /** Log time per wall-clock time: 3600 plays an hour of the shop's day each second. */
  speed: number;
  /** Move the log's days forward so that its last day is today (its first day is then about five months ago). */
  shiftToToday?: boolean;
  /** Stop after this many transactions per store. */
  count?: number;
}

export interface SimulationResult {
  tally: Tally;
  elapsedMs: number;
}

/** Waits `ms`, or until `signal` aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * A till: its sales queue up locally and are sent one by one, in order;
 * while it is offline, or when more than one is waiting (ingest slow or
 * away), what waited goes up through the batch endpoint as a backlog.
 */
class Till {
  private readonly queue: PosTransactionInput[] = [];
  private pumping: Promise<void> | undefined;
  offlineUntil = 0;

  constructor(
    private readonly client: TerminalClient,
    private readonly stopped: () => boolean,
  ) {}

  ring(tx: PosTransactionInput): void {
    this.queue.push(tx);
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped()) {
      const offline = this.offlineUntil - Date.now();
      if (offline > 0) {
        await sleep(Math.min(offline, 250));
        continue;
      }
      const waiting = this.queue.splice(0, 500);
      if (waiting.length === 1) await this.client.send(waiting[0]!);
      else await this.client.sendBacklog(waiting);
    }
  }

  get idle(): Promise<void> {
    return this.pumping ?? Promise.resolve();
  }

  /** Still waiting in the till when the run gave up. */
  get waiting(): number {
    return this.queue.length;
  }
}

function replayLog(storeId: string, index: number, shiftToToday: boolean): PosTransactionInput[] {
  const log = bakeryTransactions({ storeId })
    // Each store's copy of the log is its own transactions: a store index in the stable id.
    .map((tx) => ({ ...tx, transactionId: `${String(index + 1).padStart(8, '0')}${tx.transactionId.slice(8)}` }))
    .sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
  if (!shiftToToday || log.length === 0) return log;
  const last = log[log.length - 1]!.businessDay;
  const days = Math.round((Date.parse(new Date().toISOString().slice(0, 10)) - Date.parse(last)) / 86_400_000);
  const shift = (day: string) => new Date(Date.parse(day) + days * 86_400_000).toISOString().slice(0, 10);
  return log.map((tx) => ({ ...tx, businessDay: shift(tx.businessDay), occurredAt: new Date(Date.parse(tx.occurredAt) + days * 86_400_000).toISOString() }));
}

/**
 * Runs simulated tills against each store's ingest until the duration,
 * the count or the replay is over, or `signal` aborts; then lets every till
 * send what it holds (up to `drainMs`) and returns the tally.
 */
export async function simulate(run: SyntheticRun | ReplayRun): Promise<SimulationResult> {
  const tally = emptyTally();
  const started = Date.now();
  let stopped = false;
  const ringing = new AbortController();
  const stopRinging = () => ringing.abort();
  run.signal?.addEventListener('abort', stopRinging, { once: true });
  const durationTimer = run.durationMs === undefined ? undefined : setTimeout(stopRinging, run.durationMs);
  const progress = run.onProgress ? setInterval(() => run.onProgress!(tally, Date.now() - started), 500) : undefined;

  const tills = run.stores.map((store) => {
    const map = new Map<string, Till>();
    for (const [terminalId, token] of Object.entries(store.tokens)) {
      const client = new TerminalClient({ url: store.ingestUrl, token, tally, stopped: () => stopped, onRejected: (tx, status, detail) => run.onRejected?.(store.storeId, tx, status, detail) });
      map.set(terminalId, new Till(client, () => stopped));
    }
    return map;
  });
  const tillOf = (storeIndex: number, terminalId: string) => {
    const till = tills[storeIndex]!.get(terminalId);
    if (!till) throw new Error(`no token for terminal ${terminalId} of store ${run.stores[storeIndex]!.storeId}`);
    return till;
  };

  const ringUp = async (storeIndex: number): Promise<void> => {
    const store = run.stores[storeIndex]!;
    const ring = async (till: Till, tx: PosTransactionInput) => {
      if (run.beforeRing) await run.beforeRing(store.storeId, tx).catch((err: unknown) => run.onError?.(store.storeId, err));
      till.ring(tx);
    };
    if (run.mode === 'synthetic') {
      const generator = new SyntheticStore({ ...run, storeId: store.storeId, terminals: Object.keys(store.tokens), lastSequence: store.lastSequence, seed: (run.seed ?? 1) + storeIndex * 7919 });
      const tick = Math.max(10, Math.min(200, 1000 / run.rate));
      for (let rung = 0; !ringing.signal.aborted && (run.count === undefined || rung < run.count); ) {
        const due = Math.min(Math.floor(((Date.now() - started) / 1000) * run.rate) + 1, run.count ?? Infinity);
        for (; rung < due; rung++) {
          const { terminal, tx } = generator.next();
          const till = tillOf(storeIndex, terminal.terminalId);
          till.offlineUntil = terminal.offlineUntil;
          await ring(till, tx);
        }
        await sleep(tick, ringing.signal);
      }
    } else {
      const log = replayLog(store.storeId, storeIndex, run.shiftToToday ?? false);
      const limit = Math.min(log.length, run.count ?? Infinity);
      const first = log.length > 0 ? Date.parse(log[0]!.occurredAt) : 0;
      for (let i = 0; i < limit && !ringing.signal.aborted; i++) {
        const wait = started + (Date.parse(log[i]!.occurredAt) - first) / run.speed - Date.now();
        if (wait > 0) await sleep(wait, ringing.signal);
        if (ringing.signal.aborted) break;
        await ring(tillOf(storeIndex, log[i]!.terminalId), log[i]!);
      }
    }
  };

  await Promise.all(run.stores.map((_, i) => ringUp(i)));
  clearTimeout(durationTimer);
  // Ringing up is over: offline tills reconnect and everything held is sent, for up to drainMs.
  const all = tills.flatMap((m) => [...m.values()]);
  for (const till of all) till.offlineUntil = 0;
  const drained = Promise.all(all.map((t) => t.idle));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, run.drainMs ?? 30_000)))]);
  clearTimeout(timer);
  stopped = true;
  await drained;
  tally.abandoned += all.reduce((n, t) => n + t.waiting, 0);
  clearInterval(progress);
  run.signal?.removeEventListener('abort', stopRinging);
  const elapsedMs = Date.now() - started;
  run.onProgress?.(tally, elapsedMs);
  return { tally, elapsedMs };
}
