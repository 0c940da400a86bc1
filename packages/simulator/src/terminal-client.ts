import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '@tillstream/backoff';
import type { PosTransactionInput } from '@tillstream/contracts';

/** How a transaction ended, as a till would see it. */
export type Outcome = 'accepted' | 'replayed' | 'rejected' | 'abandoned';

export interface Tally {
  /** Transactions rung up and handed to ingest (each counted once, however often it was retried). */
  sent: number;
  /** 201: captured. */
  accepted: number;
  /** 200: ingest had it already (a retry of a transaction whose answer was lost). */
  replayed: number;
  /** Refused for good (4xx other than 409/429), by status. */
  rejected: Record<string, number>;
  /** Retries after 503, 429, 409 or a network error. */
  retries: number;
  /** Still unconfirmed when the run stopped. */
  abandoned: number;
  /** Transactions sent through the batch endpoint (offline backlogs). */
  viaBatch: number;
}

export function emptyTally(): Tally {
  return { sent: 0, accepted: 0, replayed: 0, rejected: {}, retries: 0, abandoned: 0, viaBatch: 0 };
}

export interface TerminalClientOptions {
  /** Ingest's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  token: string;
  tally: Tally;
  /** Told about each refused transaction (status and problem detail). */
  onRejected?(tx: PosTransactionInput, status: number, detail: string): void;
  /** Stop retrying when this says so (the run is over). */
  stopped(): boolean;
  /** First retry delay when ingest gives no Retry-After; doubles up to 5 s. */
  retryBaseMs?: number;
}

const MAX_BATCH = 500;

/**
 * A till's link to ingest. A transaction is retried under its own
 * transactionId until ingest confirms it (201, or 200 for one it already
 * had) or refuses it for good: what a real terminal must do so that nothing
 * is lost and nothing counted twice.
 */
export class TerminalClient {
  constructor(private readonly options: TerminalClientOptions) {}

  private async post(path: string, body: unknown): Promise<{ status: number; retryAfterMs?: number; body: unknown }> {
    try {
      const res = await fetch(`${this.options.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      const after = Number(res.headers.get('retry-after'));
      return { status: res.status, retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : undefined, body: text ? JSON.parse(text) : undefined };
    } catch {
      return { status: 0, body: undefined };
    }
  }

  private settle(tx: PosTransactionInput, status: number, problem: unknown): Outcome | 'retry' {
    const { tally } = this.options;
    if (status === 201) return tally.accepted++, 'accepted';
    if (status === 200) return tally.replayed++, 'replayed';
    if (status === 0 || status === 409 || status === 429 || status >= 500) return 'retry';
    tally.rejected[status] = (tally.rejected[status] ?? 0) + 1;
    this.options.onRejected?.(tx, status, (problem as { detail?: string } | undefined)?.detail ?? '');
    return 'rejected';
  }

  private async backoff(attempt: number, told?: number): Promise<boolean> {
    if (this.options.stopped()) return false;
    this.options.tally.retries++;
    await sleep(told ?? backoffDelay(attempt + 1, { initialMs: this.options.retryBaseMs ?? 200, maxMs: 5000 }));
    return !this.options.stopped();
  }

  /** Posts one transaction until it is confirmed or refused (or the run stops). */
  async send(tx: PosTransactionInput): Promise<Outcome> {
    this.options.tally.sent++;
    for (let attempt = 0; ; attempt++) {
      const res = await this.post('/v1/transactions', tx);
      const outcome = this.settle(tx, res.status, res.body);
      if (outcome !== 'retry') return outcome;
      if (!(await this.backoff(attempt, res.retryAfterMs))) return this.options.tally.abandoned++, 'abandoned';
    }
  }

  /** Uploads an offline backlog through the batch endpoint, 500 at a time, retrying the items that were not confirmed. */
  async sendBacklog(txs: readonly PosTransactionInput[]): Promise<void> {
    this.options.tally.sent += txs.length;
    this.options.tally.viaBatch += txs.length;
    for (let first = 0; first < txs.length; first += MAX_BATCH) {
      let pending = txs.slice(first, first + MAX_BATCH);
      for (let attempt = 0; pending.length > 0; attempt++) {
        const res = await this.post('/v1/transactions/batch', { transactions: pending });
        let told = res.retryAfterMs;
        if (res.status === 200) {
          const results = (res.body as { results: Array<{ index: number; status: number; problem?: unknown }> }).results;
          pending = results.filter((r) => this.settle(pending[r.index]!, r.status, r.problem) === 'retry').map((r) => pending[r.index]!);
          told = undefined;
        } else if (this.settle(pending[0]!, res.status, res.body) !== 'retry') {
          // The whole request was refused (bad token, too large): every item shares its fate.
          const { tally } = this.options;
          tally.rejected[res.status] = (tally.rejected[res.status] ?? 0) + pending.length - 1;
          pending = [];
        }
        if (pending.length > 0 && !(await this.backoff(attempt, told))) {
          this.options.tally.abandoned += pending.length + Math.max(0, txs.length - first - MAX_BATCH);
          return;
        }
      }
    }
  }
}
