import { posTransactions, type IngestReceipt, type PosTransaction } from '@tillstream/contracts';
import { claimTransactions, classifyPgError, commitTransactions, releaseTransactions, type JournalEntry, type Pool } from '@tillstream/db';
import { HttpProblem } from '@tillstream/http';
import type { Logger } from '@tillstream/observability';
import { BrokerUnavailableError, type ProducerGate } from './broker.ts';
import type { IngestMetrics } from './metrics.ts';

export interface CaptureItem {
  tx: PosTransaction;
  /** SHA-256 of the canonical validated document: "same body" means the same hash. */
  bodyHash: Buffer;
  receivedAt: Date;
}

export type CaptureOutcome =
  | { status: 201 | 200; receipt: IngestReceipt }
  | { status: number; problem: HttpProblem };

export interface CaptureOptions {
  pool: Pool;
  gate: ProducerGate;
  logger: Logger;
  metrics: IngestMetrics;
  storeId: string;
  produceTimeoutMs: number;
  maxBatch: number;
  lingerMs: number;
  maxInFlight: number;
  /** Batches processed at once: while one waits for the broker the next claims in PostgreSQL. Default 4. */
  maxConcurrentBatches?: number;
}

interface Pending {
  item: CaptureItem;
  resolve: (outcome: CaptureOutcome) => void;
}

const RECEIVED_AT_HEADER = 'tillstream-received-at';

function problemOutcome(problem: HttpProblem): CaptureOutcome {
  return { status: problem.status, problem };
}

function receiptOf(transactionId: string, partition: number, offset: string, receivedAt: Date): IngestReceipt {
  return { transactionId, partition, offset, receivedAt: receivedAt.toISOString() };
}

/**
 * The capture pipeline: claim each transactionId in PostgreSQL, produce the
 * claimed transactions to pos.transactions.v1 (acks=all), record their
 * broker positions, answer. Requests are coalesced (group commit): every
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
  private active = 0;
  private readonly idle = new Set<() => void>();
  private closed = false;

  constructor(private readonly options: CaptureOptions) {}

  /** Outcomes in the order of `items`. */
  submit(items: CaptureItem[]): Promise<CaptureOutcome[]> {
    if (this.closed) {
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('OVERLOADED', 'ingest is shutting down; retry shortly', { retryAfterSeconds: 2 }))));
    }
    if (!this.options.gate.isReady()) {
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('BROKER_UNAVAILABLE', 'the broker is unreachable; keep the transaction and retry', { retryAfterSeconds: 2 }))));
    }
    if (this.inFlight + items.length > this.options.maxInFlight) {
      this.options.metrics.overloaded.inc(items.length);
      return Promise.resolve(items.map(() => problemOutcome(new HttpProblem('OVERLOADED', 'too many transactions in flight; retry shortly', { retryAfterSeconds: 1 }))));
    }
    this.inFlight += items.length;
    this.options.metrics.inFlight.set(this.inFlight);
    const outcomes = items.map((item) => new Promise<CaptureOutcome>((resolve) => this.queue.push({ item, resolve })));
    this.schedule();
    return Promise.all(outcomes);
  }

  /** Stops taking new work and waits for what is in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.length > 0) this.flush();
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private schedule(): void {
    if (this.queue.length >= this.options.maxBatch) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.options.lingerMs);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && this.active < (this.options.maxConcurrentBatches ?? 4)) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.active++;
      void this.process(batch).finally(() => {
        this.active--;
        this.inFlight -= batch.length;
        this.options.metrics.inFlight.set(this.inFlight);
        if (this.inFlight === 0) for (const wake of this.idle) wake();
        this.idle.clear();
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async process(batch: Pending[]): Promise<void> {
    try {
      await this.processBatch(batch);
    } catch (err) {
      // Anything unexpected: nothing was acknowledged, so 503 is the honest answer.
      this.options.logger.error({ err }, 'capture batch failed');
      const problem = new HttpProblem('OVERLOADED', 'the transaction could not be captured; retry', { retryAfterSeconds: 2, cause: err });
      for (const p of batch) p.resolve(problemOutcome(problem));
    }
  }

  private async processBatch(batch: Pending[]): Promise<void> {
    // Duplicates inside one batch: the first occurrence goes ahead, the others are "in flight".
    const first = new Map<string, Pending>();
    for (const p of batch) {
      const id = p.item.tx.transactionId;
      const leader = first.get(id);
      if (!leader) first.set(id, p);
      else p.resolve(problemOutcome(leader.item.bodyHash.equals(p.item.bodyHash) ? inFlightProblem() : mismatchProblem()));
    }
    const unique = [...first.values()];
    const entries: JournalEntry[] = unique.map(({ item }) => ({
      transactionId: item.tx.transactionId,
      storeId: item.tx.storeId,
      terminalId: item.tx.terminalId,
      sequenceNumber: item.tx.sequenceNumber,
      businessDay: item.tx.businessDay,
      bodyHash: item.bodyHash,
      receivedAt: item.receivedAt,
    }));

    let claims;
    try {
      // A claim outlives the produce timeout, so only a crashed or timed-out attempt is ever taken over.
      claims = await claimTransactions(this.options.pool, entries, this.options.produceTimeoutMs * 3);
    } catch (err) {
      const e = classifyPgError(err);
      this.options.logger.warn({ err: e.message }, 'idempotency journal unavailable');
      const problem = new HttpProblem('DATABASE_UNAVAILABLE', 'the store database is unavailable; keep the transaction and retry', { retryAfterSeconds: 2, cause: e });
      for (const p of unique) p.resolve(problemOutcome(problem));
      return;
    }

    const toProduce: Pending[] = [];
    unique.forEach((p, i) => {
      const claim = claims[i]!;
      switch (claim.kind) {
        case 'claimed':
          toProduce.push(p);
          break;
        case 'committed':
          this.options.metrics.transactions.inc({ outcome: 'replayed' });
          p.resolve({ status: 200, receipt: receiptOf(claim.receipt.transactionId, claim.receipt.partition, claim.receipt.offset, claim.receipt.receivedAt) });
          break;
        case 'body-mismatch':
          p.resolve(problemOutcome(mismatchProblem()));
          break;
        case 'in-flight':
          p.resolve(problemOutcome(inFlightProblem()));
          break;
      }
    });
    if (toProduce.length > 0) await this.produce(toProduce);
  }

  private async produce(batch: Pending[]): Promise<void> {
    const events = batch.map(({ item }) => ({
      storeId: this.options.storeId,
      data: item.tx,
      headers: { [RECEIVED_AT_HEADER]: item.receivedAt.toISOString() },
    }));
    const ids = batch.map((p) => p.item.tx.transactionId);
    this.options.metrics.produceBatchSize.observe(batch.length);
    const started = performance.now();
    let receipts;
    try {
      receipts = await this.options.gate.send(posTransactions, events, this.options.produceTimeoutMs);
    } catch (err) {
      const late = err instanceof BrokerUnavailableError ? err.late : undefined;
      await releaseTransactions(this.options.pool, ids).catch((e: unknown) => this.options.logger.warn({ err: e }, 'could not release claims'));
      // If the broker acknowledges after all, record it: the terminal's retry then gets the receipt instead of a second copy.
      late?.then((r) => commitTransactions(this.options.pool, r.map((x, i) => ({ transactionId: ids[i]!, partition: x.partition, offset: x.offset }))))
        .catch(() => undefined);
      const problem = err instanceof BrokerUnavailableError
        ? new HttpProblem('BROKER_UNAVAILABLE', 'the broker did not acknowledge; keep the transaction and retry', { retryAfterSeconds: 2, cause: err })
        : new HttpProblem('INTERNAL', 'the transaction could not be produced', { cause: err });
      if (!(err instanceof BrokerUnavailableError)) this.options.logger.error({ err }, 'produce failed');
      for (const p of batch) p.resolve(problemOutcome(problem));
      return;
    }
    this.options.metrics.produceSeconds.observe((performance.now() - started) / 1000);
    const committed = receipts.map((r, i) => ({ transactionId: ids[i]!, partition: r.partition, offset: r.offset }));
    // The broker has it: that is what the 201 promises. If the journal update
    // fails, the claim lapses and a replay would produce a second copy under
    // the same transactionId, which consumers de-duplicate.
    await commitTransactions(this.options.pool, committed).catch((err: unknown) =>
      this.options.logger.warn({ err }, 'produced, but recording receipts failed'),
    );
    batch.forEach((p, i) => {
      this.options.metrics.transactions.inc({ outcome: 'created' });
      p.resolve({ status: 201, receipt: receiptOf(ids[i]!, committed[i]!.partition, committed[i]!.offset, p.item.receivedAt) });
    });
  }
}

function inFlightProblem(): HttpProblem {
  return new HttpProblem('IDEMPOTENCY_IN_FLIGHT', 'a request with this transactionId is being processed; retry after it completes', { retryAfterSeconds: 1 });
}

function mismatchProblem(): HttpProblem {
  return new HttpProblem('IDEMPOTENCY_KEY_REUSED', 'this transactionId was already used for a different transaction');
}
