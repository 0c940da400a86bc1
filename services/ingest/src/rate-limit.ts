import type { RequestHandler } from 'express';
import { TillstreamError } from '@tillstream/contracts';
import { HttpProblem } from '@tillstream/http';

/** Milliseconds on a monotonic clock; injectable so tests decide when time passes. */
export type Clock = () => number;

/** What each terminal may spend; each is a token bucket (`perSecond` sustained, `burst` at once). */
export interface TerminalLimits {
  requests: { perSecond: number; burst: number };
  transactions: { perSecond: number; burst: number };
  bytes: { perSecond: number; burst: number };
}

type Resource = keyof TerminalLimits;

const UNIT: Record<Resource, string> = { requests: 'requests', transactions: 'transactions', bytes: 'bytes' };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * How a terminal that keeps sending after a 429 is answered: its next
 * refusals within `windowMs` of the last one are held `delayMs` before they
 * go out (at most `maxHeld` at a time per terminal; past that, at once). A
 * till that honours Retry-After never meets the delay; one that ignores it
 * (a runaway backlog replay on eight connections) is slowed from hundreds
 * of refused requests a second, each costing ingest a connection, a parse
 * of its head and a problem document, to a handful.
 */
export interface RefusalPacing {
  delayMs: number;
  windowMs: number;
  maxHeld: number;
}

export const DEFAULT_PACING: RefusalPacing = { delayMs: 1000, windowMs: 5000, maxHeld: 16 };

/**
 * Per-terminal budgets in requests, transactions and bytes. Requests alone
 * let one till starve a store (40 batch requests are 20,000 transactions and
 * up to 40 MB), so each terminal also has a budget of transactions and of
 * body bytes, and what one terminal spends never comes out of another's.
 * In memory, per ingest process: one process serves one store, and a limit
 * that forgets on restart is fine for a guard against a runaway till.
 */
export class TerminalLimiter {
  private readonly buckets = new Map<string, Record<Resource, Bucket>>();
  /** Per terminal: when it was last refused (limiter clock) and how many of its refusals are being held. */
  private readonly refusals = new Map<string, { at: number; held: number }>();

  constructor(
    readonly limits: TerminalLimits,
    private readonly now: Clock = () => performance.now(),
    readonly pacing: RefusalPacing = DEFAULT_PACING,
  ) {
    for (const [resource, { perSecond, burst }] of Object.entries(limits)) {
      if (!(perSecond > 0) || !(burst >= 1)) throw new TillstreamError('CONFIG_INVALID', `terminal ${resource} limit needs a positive rate and a burst of at least 1`);
    }
  }

  /**
   * Takes `amount` of `resource` from the terminal's bucket, or, if the bucket
   * holds less, takes nothing and says how long until it would hold enough.
   * An amount larger than the burst is refused for good (retryAfterSeconds
   * undefined): callers size bursts above their request limits.
   */
  take(terminal: string, resource: Resource, amount: number): { remaining: number } | { retryAfterSeconds: number | undefined } {
    const { perSecond, burst } = this.limits[resource];
    if (amount > burst) return { retryAfterSeconds: undefined };
    const now = this.now();
    let buckets = this.buckets.get(terminal);
    if (!buckets) {
      buckets = { requests: { tokens: this.limits.requests.burst, at: now }, transactions: { tokens: this.limits.transactions.burst, at: now }, bytes: { tokens: this.limits.bytes.burst, at: now } };
      this.buckets.set(terminal, buckets);
    }
    const bucket = buckets[resource];
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (bucket.tokens < amount) return { retryAfterSeconds: Math.max(1, Math.ceil((amount - bucket.tokens) / perSecond)) };
    bucket.tokens -= amount;
    return { remaining: bucket.tokens };
  }

  /**
   * How long to hold this refusal of `terminal` before answering it, in ms
   * (see RefusalPacing), and the function to call once it is answered. The
   * first refusal after a quiet window goes out at once.
   */
  pace(terminal: string): { delayMs: number; release: () => void } {
    const now = this.now();
    const last = this.refusals.get(terminal);
    const repeated = last !== undefined && now - last.at < this.pacing.windowMs;
    const entry = repeated ? last : { at: now, held: 0 };
    entry.at = now;
    this.refusals.set(terminal, entry);
    if (!repeated || this.pacing.delayMs === 0 || entry.held >= this.pacing.maxHeld) return { delayMs: 0, release: () => undefined };
    entry.held++;
    let released = false;
    return {
      delayMs: this.pacing.delayMs,
      release: () => {
        if (released) return;
        released = true;
        entry.held--;
      },
    };
  }

  /** `take`, as the 429 problem to answer when refused. */
  spend(terminal: string, resource: Resource, amount: number): HttpProblem | undefined {
    const taken = this.take(terminal, resource, amount);
    return 'remaining' in taken ? undefined : this.refusal(terminal, resource, taken);
  }

  /** The 429 problem for a refused `take`. */
  refusal(terminal: string, resource: Resource, taken: { retryAfterSeconds: number | undefined }): HttpProblem {
    const { perSecond, burst } = this.limits[resource];
    return new HttpProblem(
      'RATE_LIMITED',
      `terminal ${terminal} exceeds its ${perSecond} ${UNIT[resource]}/s (${burst} at once); ${resource === 'requests' ? 'send backlogs through /v1/transactions/batch' : 'send the backlog more slowly'}`,
      { retryAfterSeconds: taken.retryAfterSeconds ?? 60 },
    );
  }
}

/**
 * The limits that can be checked before the body is read: one request, and
 * the body's bytes as declared by Content-Length (a body of undeclared length
 * is charged as the largest one accepted, `maxBodyBytes`). A refused request
 * is answered at once and its connection closed, so its body is never read.
 * Runs after authentication: budgets are per terminal.
 */
export function terminalRateLimit(limiter: TerminalLimiter, maxBodyBytes: number): RequestHandler {
  return (req, res, next) => {
    const terminal = req.terminal;
    if (!terminal) {
      next();
      return;
    }
    const declared = Number(req.headers['content-length']);
    // Past the body limit the parser answers 413 without reading: nothing to charge.
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? (declared > maxBodyBytes ? 0 : declared) : maxBodyBytes;
    const refuse = (problem: HttpProblem) => {
      res.setHeader('Connection', 'close');
      const { delayMs, release } = limiter.pace(terminal.terminalId);
      if (delayMs === 0) {
        next(problem);
        return;
      }
      // Held, not read: the body waits in the socket's buffers (TCP flow control stops the sender) and is never read.
      const timer = setTimeout(() => {
        release();
        next(problem);
      }, delayMs);
      res.once('close', () => {
        clearTimeout(timer);
        release();
      });
    };
    const requests = limiter.take(terminal.terminalId, 'requests', 1);
    if (!('remaining' in requests)) {
      refuse(limiter.refusal(terminal.terminalId, 'requests', requests));
      return;
    }
    const refused = bytes > 0 ? limiter.spend(terminal.terminalId, 'bytes', bytes) : undefined;
    if (refused) {
      refuse(refused);
      return;
    }
    res.setHeader('RateLimit-Remaining', String(Math.floor(requests.remaining)));
    next();
  };
}
