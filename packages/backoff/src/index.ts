/**
 * The one retry schedule of Tillstream: capped exponential backoff with
 * "equal jitter". Every loop that waits for something to come back (a broker,
 * the database, HQ, ingest) asks this for its delay; the loops themselves stay
 * where they are, because each stops differently (on stop(), on a refusal, on
 * a Retry-After it was told).
 *
 * Why not a library: `exponential-backoff` and `p-retry` wrap a function in
 * their own retry loop; our callers need the delay itself (BullMQ's
 * backoffStrategy returns a number, consumers wake early on stop(), HQ's
 * Retry-After overrides the schedule), and neither exposes it.
 */

export interface BackoffOptions {
  /** The first delay (attempt 1), before jitter. */
  initialMs: number;
  /** No delay exceeds this, before jitter. */
  maxMs: number;
  /**
   * Jitter: a delay is drawn from half to all of its ceiling, so processes
   * that failed together (a broker restart) do not retry in lockstep. Default true.
   */
  jitter?: boolean;
  /** The random source in [0, 1); default Math.random (tests pass their own). */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry): the
 * ceiling initialMs * 2^(attempt-1), capped at maxMs, then jittered to
 * between half of it and all of it. An attempt below 1 counts as 1.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const doublings = Math.min(30, Math.max(0, Math.floor(attempt) - 1));
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** doublings);
  if (options.jitter === false) return ceiling;
  const random = options.random ?? Math.random;
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
