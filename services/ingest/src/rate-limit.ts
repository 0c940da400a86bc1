import type { RequestHandler } from 'express';
import { HttpProblem } from '@tillstream/http';

/**
 * A token bucket per terminal: `ratePerSecond` sustained, `burst` at once.
 * In memory, per ingest process: one process serves one store, and a limit
 * that forgets on restart is fine for a guard against a runaway till.
 */
export function terminalRateLimit(options: { ratePerSecond: number; burst: number }): RequestHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req, res, next) => {
    const terminal = req.terminal;
    if (!terminal) {
      next();
      return;
    }
    const key = `${terminal.storeId}:${terminal.terminalId}`;
    const now = performance.now();
    const bucket = buckets.get(key) ?? { tokens: options.burst, at: now };
    bucket.tokens = Math.min(options.burst, bucket.tokens + ((now - bucket.at) / 1000) * options.ratePerSecond);
    bucket.at = now;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const wait = Math.max(1, Math.ceil((1 - bucket.tokens) / options.ratePerSecond));
      next(new HttpProblem('RATE_LIMITED', `terminal ${terminal.terminalId} exceeds ${options.ratePerSecond} requests/s; send backlogs through /v1/transactions/batch`, { retryAfterSeconds: wait }));
      return;
    }
    bucket.tokens -= 1;
    res.setHeader('RateLimit-Remaining', String(Math.floor(bucket.tokens)));
    next();
  };
}
