import { posTransactions, type IngestReceipt, type PosTransaction } from '@tillstream/contracts';
import { classifyPgError, findTransactions, journalEntry, recordTransactions, type JournalEntry, type JournalRecord, type Pool } from '@tillstream/db';
import { HttpProblem } from '@tillstream/http';
import type { Logger } from '@tillstream/observability';
import { HEADER, type RecordReceipt } from '@tillstream/kafka';
import { BrokerUnavailableError, type ProducerGate } from './broker.ts';
import type { KnownIds } from './known-ids.ts';
import type { IngestMetrics } from './metrics.ts';

export interface CaptureItem {
  tx: PosTransaction;
  /** The validated document as JSON (what is produced, inside the envelope). */
  json: string;
  /** SHA-256 of `json`: "same body" means the same hash. */
  bodyHash: Buffer;
  receivedAt: Date;
  /** The HTTP request that brought it (X-Request-Id): written in the record's headers for every consumer's log lines. */
  requestId?: string | undefined;
}

export type CaptureOutcome =
  | { status: 201 | 200; receipt: IngestReceipt }
  | { status: number; problem: HttpProblem };

export interface CaptureOptions {
  pool: Pool;
  /** Every transactionId in the journal (and those captured since). */
  knownIds: KnownIds;
  gate: ProducerGate;
  logger: Logger;
  metrics: IngestMetrics;
  storeId: string;
  produceTimeoutMs: number;
  maxBatch: number;
  lingerMs: number;
  maxInFlight: number;
  /**
   * Transactions one terminal may have in flight: its share of `maxInFlight`.
   * Past it the terminal gets 429 (its own backlog is the cause), and the rest
   * of the capacity stays for the other tills. Default `maxInFlight`.
   */
  maxInFlightPerTerminal?: number;
  /** Batches processed at once: while one waits for the broker the next claims in PostgreSQL. Default 4. */
  maxConcurrentBatches?: number;
}

interface Pending {
  item: CaptureItem;
  resolve: (outcome: CaptureOutcome) => void;
}

/** A terminal that submitted within this long counts as selling now when produce requests are shared out. */
const ACTIVE_WINDOW_MS = 2000;

function problemOutcome(problem: HttpProblem): CaptureOutcome {
  return { status: problem.status, problem };
}

function receiptOf(transactionId: string, partition: number, offset: string, receivedAt: Date): IngestReceipt {
  return { transactionId, partition, offset, receivedAt: receivedAt.toISOString() };
}

/**
 * The capture pipeline: look each transactionId up in the journal, produce
 * the new ones to pos.transactions.v1 (acks=all), record their broker
 * positions in the journal, answer. Requests are coalesced (group commit): every
 * step works on a batch of up to `maxBatch` transactions gathered for at
 * most `lingerMs`, so a burst costs a few round trips, not one per sale.
 *
 * Answers follow ARCHITECTURE.md invariant 3: 201 once the broker
 * acknowledged; 200 with the original receipt for a transactionId already
 * committed with the same body; 422 for the same id with another body; 409
 * while the same id is being produced by another request; 503 + Retry-After
 * when the broker or the database cannot take it (nothing was acknowledged,
 * so the terminal keeps it and retries).
 */
export class Capture {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  /** In-flight transactions per terminalId. */
  private readonly inFlightOf = new Map<string, number>();
  /** When each terminal last submitted (ms, monotonic): the tills selling now share each produce request. */
  private readonly lastSeen = new Map<string, number>();
  /** transactionId -> body hash of every transaction between submit and answer in this process. */
  private readonly capturing = new Map<string, Buffer>();
  private looking = 0;
  /** Transactions not yet in the journal, waiting for the (single) produce slot. */
  private ready: Pending[] = [];
  private producing = false;
  /**
   * Acknowledged by the broker and answered, not yet in the journal: the
   * journal write happens after the 201 (the 201 promises only the broker
   * acknowledgement), and replays in between are answered from here.
   */
  private readonly unrecorded = new Map<string, JournalEntry>();
  private recording: Promise<void> | undefined;
  private readonly idle = new Set<() => void>();
  private closed = false;
  /**
   * False until the journal and the filter know every receipt the broker's
   * log holds (see recovery.ts): before that a re-sent transaction could be
   * captured a second time, so nothing is answered but 503.
   */
  private caughtUp = false;

  constructor(private readonly options: CaptureOptions) {}

  /** Starts taking transactions: the journal has caught up with the broker's log. */
  open(): void {
    this.caughtUp = true;
  }

  get isOpen(): boolean {
    return this.caughtUp && !this.closed;
  }

  /** Outcomes in the order of `items`. */
  submit(items: CaptureItem[]): Promise<CaptureOutcome[]> {
    if (this.closed) {
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('OVERLOADED', 'ingest is shutting down; retry shortly', { retryAfterSeconds: 2 }))));
    }
    if (!this.caughtUp) {
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('BROKER_UNAVAILABLE', "ingest is reading the broker's log to recover its receipts; retry shortly", { retryAfterSeconds: 2 }))));
    }
    if (!this.options.gate.isReady()) {
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('BROKER_UNAVAILABLE', 'the broker is unreachable; keep the transaction and retry', { retryAfterSeconds: 2 }))));
    }
    if (this.unrecorded.size >= this.options.maxInFlight * 10) {
      // The journal has been unwritable for a while (database down): stop
      // taking sales whose receipts could only live in memory.
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('DATABASE_UNAVAILABLE', 'the store database is unavailable; keep the transaction and retry', { retryAfterSeconds: 5 }))));
    }
    const share = this.options.maxInFlightPerTerminal ?? this.options.maxInFlight;
    const now = performance.now();
    const wanted = new Map<string, number>();
    for (const { tx } of items) wanted.set(tx.terminalId, (wanted.get(tx.terminalId) ?? 0) + 1);
    for (const terminal of wanted.keys()) this.lastSeen.set(terminal, now);
    for (const [terminal, count] of wanted) {
      if ((this.inFlightOf.get(terminal) ?? 0) + count > share) {
        this.options.metrics.overloaded.inc({ scope: 'terminal' }, items.length);
        return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('RATE_LIMITED', `terminal ${terminal} has ${this.inFlightOf.get(terminal) ?? 0} transactions in flight, its share is ${share}; retry once they are answered`, { retryAfterSeconds: 1 }))));
      }
    }
    if (this.inFlight + items.length > this.options.maxInFlight) {
      this.options.metrics.overloaded.inc({ scope: 'store' }, items.length);
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('OVERLOADED', 'too many transactions in flight; retry shortly', { retryAfterSeconds: 1 }))));
    }
    const outcomes = items.map((item) => {
      // A transaction already being captured here: 409 for the same body, 422 for another.
      const current = this.capturing.get(item.tx.transactionId);
      if (current) return Promise.resolve(problemOutcome(current.equals(item.bodyHash) ? inFlightProblem() : mismatchProblem()));
      this.capturing.set(item.tx.transactionId, item.bodyHash);
      this.inFlight++;
      const terminal = item.tx.terminalId;
      this.inFlightOf.set(terminal, (this.inFlightOf.get(terminal) ?? 0) + 1);
      return new Promise<CaptureOutcome>((resolve) => {
        let settled = false;
        this.queue.push({
          item,
          resolve: (outcome) => {
            if (settled) return;
            settled = true;
            this.capturing.delete(item.tx.transactionId);
            const left = this.inFlightOf.get(terminal)! - 1;
            if (left === 0) this.inFlightOf.delete(terminal);
            else this.inFlightOf.set(terminal, left);
            this.done();
            resolve(outcome);
          },
        });
      });
    });
    this.options.metrics.inFlight.set(this.inFlight);
    this.schedule();
    return Promise.all(outcomes);
  }

  /** Stops taking new work and waits for what is in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.length > 0) this.flush();
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
    while (this.unrecorded.size > 0) await this.recordPending();
  }

  private done(): void {
    this.inFlight--;
    this.options.metrics.inFlight.set(this.inFlight);
    if (this.inFlight === 0) {
      for (const wake of this.idle) wake();
      this.idle.clear();
    }
  }

  private schedule(): void {
    if (this.queue.length >= this.options.maxBatch) {
      this.flush();
    } else if (!this.timer && this.queue.length > 0) {
      this.timer = setTimeout(() => this.flush(), this.options.lingerMs);
    }
  }

  /**
   * Stage 1, journal look-up: several batches may look up at once (their
   * PostgreSQL round trips overlap). Stage 2, produce: one request at a time
   * (the idempotent producer allows one in flight), taking everything looked
   * up meanwhile, so batches grow with load instead of queueing. Stage 3,
   * recording receipts, overlaps the next produce.
   */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && this.looking < (this.options.maxConcurrentBatches ?? 4)) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.looking++;
      void this.guard(batch, () => this.lookUp(batch)).finally(() => {
        this.looking--;
        this.schedule();
      });
    }
  }

  /** Anything unexpected: nothing was acknowledged, so 503 is the honest answer. */
  private async guard(batch: Pending[], step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.options.logger.error({ err }, 'capture failed');
      const problem = new HttpProblem('OVERLOADED', 'the transaction could not be captured; retry', { retryAfterSeconds: 2, cause: err });
      for (const p of batch) p.resolve(problemOutcome(problem));
    }
  }

  private async lookUp(batch: Pending[]): Promise<void> {
    // Only ids the filter may have seen need PostgreSQL; new transactions go straight on.
    const maybeKnown = batch.map((p) => p.item.tx.transactionId).filter((id) => !this.unrecorded.has(id) && this.options.knownIds.mightContain(id));
    let known = new Map<string, JournalRecord>();
    try {
      if (maybeKnown.length > 0) {
        const end = this.options.metrics.journalSeconds.startTimer({ op: 'lookup' });
        known = await findTransactions(this.options.pool, maybeKnown);
        end();
      }
      for (const p of batch) {
        const pending = this.unrecorded.get(p.item.tx.transactionId);
        if (pending) known.set(pending.transactionId, pending);
      }
    } catch (err) {
      const e = classifyPgError(err);
      this.options.logger.warn({ err: e.message }, 'idempotency journal unavailable');
      const problem = new HttpProblem('DATABASE_UNAVAILABLE', 'the store database is unavailable; keep the transaction and retry', { retryAfterSeconds: 2, cause: e });
      for (const p of batch) p.resolve(problemOutcome(problem));
      return;
    }
    for (const p of batch) {
      const record = known.get(p.item.tx.transactionId);
      if (!record) {
        this.ready.push(p);
      } else if (!record.bodyHash.equals(p.item.bodyHash)) {
        p.resolve(problemOutcome(mismatchProblem()));
      } else {
        this.options.metrics.transactions.inc({ outcome: 'replayed' });
        p.resolve({ status: 200, receipt: receiptOf(record.transactionId, record.partition, record.offset, record.receivedAt) });
      }
    }
    this.pump();
  }

  private pump(): void {
    if (this.producing || this.ready.length === 0) return;
    this.producing = true;
    const batch = this.takeFairly();
    void this.guard(batch, () => this.produce(batch)).finally(() => {
      this.producing = false;
      this.pump();
    });
  }

  /**
   * The next produce request's transactions. While more are ready than one
   * request takes, terminals take turns (round robin, each in its own order),
   * so a sale is never left for a later request behind another till's
   * 500-transaction backlog.
   */
  private takeFairly(): Pending[] {
    const max = this.options.maxBatch;
    // While several tills are selling, one till's records fill at most its share of a produce request:
    // a sale that arrives while another till's 500-transaction backlog is being produced waits for a
    // request of ~max/active records, not the whole backlog (the produce slot is single). A till alone
    // (a backlog replayed after an outage, the ingest benchmark's one token) still fills whole requests.
    const share = Math.max(1, Math.ceil(max / this.activeTerminals()));
    const queues = new Map<string, Pending[]>();
    for (const p of this.ready) {
      const queue = queues.get(p.item.tx.terminalId);
      if (queue) queue.push(p);
      else queues.set(p.item.tx.terminalId, [p]);
    }
    if (this.ready.length <= max && [...queues.values()].every((queue) => queue.length <= share)) return this.ready.splice(0);
    const taken = new Set<Pending>();
    for (let turn = 0; turn < share && taken.size < max; turn++) {
      let any = false;
      for (const queue of queues.values()) {
        const p = queue[turn];
        if (!p) continue;
        any = true;
        taken.add(p);
        if (taken.size === max) break;
      }
      if (!any) break;
    }
    this.ready = this.ready.filter((p) => !taken.has(p));
    return [...taken];
  }

  /** Terminals that submitted within the last ACTIVE_WINDOW_MS (forgetting the rest), at least 1. */
  private activeTerminals(): number {
    const since = performance.now() - ACTIVE_WINDOW_MS;
    for (const [terminal, at] of this.lastSeen) if (at < since) this.lastSeen.delete(terminal);
    return Math.max(1, this.lastSeen.size);
  }

  private journalEntries(batch: Pending[], receipts: RecordReceipt[]): JournalEntry[] {
    return batch.map(({ item }, i) =>
      journalEntry(item.tx, { bodyHash: item.bodyHash, receivedAt: item.receivedAt, partition: receipts[i]!.partition, offset: receipts[i]!.offset }),
    );
  }

  private async produce(batch: Pending[]): Promise<void> {
    const events = batch.map(({ item }) => ({
      storeId: this.options.storeId,
      data: item.tx,
      dataJson: item.json,
      headers: { [HEADER.receivedAt]: item.receivedAt.toISOString(), ...(item.requestId ? { [HEADER.requestId]: item.requestId } : {}) },
    }));
    this.options.metrics.produceBatchSize.observe(batch.length);
    const started = performance.now();
    let receipts: RecordReceipt[];
    try {
      // Every transaction was parsed with PosTransactionV1 at the HTTP boundary; these are its outputs.
      receipts = await this.options.gate.send(posTransactions, events, this.options.produceTimeoutMs, { dataValidated: true });
    } catch (err) {
      if (err instanceof BrokerUnavailableError) {
        // If the broker acknowledges after all, record it: a retry then gets this receipt instead of producing a second copy.
        err.late
          ?.then((r) => {
            for (const p of batch) this.options.knownIds.add(p.item.tx.transactionId);
            return recordTransactions(this.options.pool, this.journalEntries(batch, r));
          })
          .catch(() => undefined);
        const problem = new HttpProblem('BROKER_UNAVAILABLE', 'the broker did not acknowledge; keep the transaction and retry', { retryAfterSeconds: 2, cause: err });
        for (const p of batch) p.resolve(problemOutcome(problem));
        return;
      }
      throw err;
    }
    this.options.metrics.produceSeconds.observe((performance.now() - started) / 1000);
    // Record receipts while the next batch produces.
    void this.record(batch, receipts);
  }

  private async record(batch: Pending[], receipts: RecordReceipt[]): Promise<void> {
    // The broker has it: that is what the 201 promises, so answer now and
    // write the journal behind. Until written, replays are answered from
    // memory; after a crash in between, the restart reads these receipts back
    // from the broker's log before it answers anything (recovery.ts).
    for (const entry of this.journalEntries(batch, receipts)) {
      this.options.knownIds.add(entry.transactionId);
      this.unrecorded.set(entry.transactionId, entry);
    }
    batch.forEach((p, i) => {
      this.options.metrics.transactions.inc({ outcome: 'created' });
      p.resolve({ status: 201, receipt: receiptOf(p.item.tx.transactionId, receipts[i]!.partition, receipts[i]!.offset, p.item.receivedAt) });
    });
    await this.recordPending();
  }

  /** Writes every unrecorded receipt to the journal; one writer at a time, batches merging while it waits. */
  private recordPending(): Promise<void> {
    this.recording ??= (async () => {
      while (this.unrecorded.size > 0) {
        const entries: JournalEntry[] = [];
        for (const entry of this.unrecorded.values()) {
          entries.push(entry);
          if (entries.length === 5000) break;
        }
        const end = this.options.metrics.journalSeconds.startTimer({ op: 'record' });
        try {
          await recordTransactions(this.options.pool, entries);
          for (const e of entries) this.unrecorded.delete(e.transactionId);
        } catch (err) {
          this.options.logger.warn({ err: (err as Error).message, pending: this.unrecorded.size }, 'journal write failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 1000));
        } finally {
          end();
        }
      }
    })().finally(() => {
      this.recording = undefined;
    });
    return this.recording;
  }
}

function inFlightProblem(): HttpProblem {
  return new HttpProblem('IDEMPOTENCY_IN_FLIGHT', 'a request with this transactionId is being processed; retry after it completes', { retryAfterSeconds: 1 });
}

function mismatchProblem(): HttpProblem {
  return new HttpProblem('IDEMPOTENCY_KEY_REUSED', 'this transactionId was already used for a different transaction');
}
