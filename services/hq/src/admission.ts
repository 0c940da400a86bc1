import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NextFunction, Request, Response } from 'express';
import type { Pool } from '@tillstream/db';
import { HttpProblem } from '@tillstream/http';
import { Counter, Gauge, type Registry } from '@tillstream/observability';

export interface AdmissionLimits {
  /** Upload batches this process takes at once (their bodies read, parsed, produced, recorded). */
  maxBatches: number;
  /** Queries waiting for one of the pool's connections. */
  maxPoolWaiting: number;
  /** p99 event-loop delay over the last second. */
  maxEventLoopLagMs: number;
  retryAfterSeconds: number;
}

export interface Admission {
  /** Express middleware, first on an upload route: reads nothing but the process's own state. */
  (req: Request, res: Response, next: NextFunction): void;
  /** Stops the event-loop monitor. */
  close(): void;
}

/**
 * Admission of upload batches: when this HQ process is saturated (too many
 * batches in flight here, the database pool's queue too long, the event loop
 * lagging) an upload is answered 503 OVERLOADED with Retry-After before its
 * body is read, let alone parsed, and the connection is closed so the unread
 * body costs nothing. Stores keep the batch and retry no sooner than
 * Retry-After (services/sync/src/hq-client.ts); another API copy behind the
 * load balancer may take it meanwhile.
 */
export function admission(options: { pool: Pool; limits: AdmissionLimits; registry?: Registry }): Admission {
  const { pool, limits } = options;
  const refused = new Counter({
    name: 'hq_uploads_refused_total',
    help: 'Upload batches answered 503 before their body was read, by what was saturated',
    labelNames: ['reason'],
    registers: options.registry ? [options.registry] : [],
  });
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let lagMs = 0;
  const sampler = setInterval(() => {
    lagMs = delay.count > 0 ? delay.percentile(99) / 1e6 : 0;
    delay.reset();
  }, 1000);
  sampler.unref();
  let inFlight = 0;
  new Gauge({
    name: 'hq_upload_batches_in_flight',
    help: 'Upload batches this process has admitted and not yet answered',
    registers: options.registry ? [options.registry] : [],
    collect() {
      this.set(inFlight);
    },
  });

  const admit = ((_req: Request, res: Response, next: NextFunction) => {
    const reason =
      inFlight >= limits.maxBatches
        ? `${inFlight} batches in flight in this process`
        : pool.waitingCount > limits.maxPoolWaiting
          ? `${pool.waitingCount} queries waiting for a database connection`
          : lagMs > limits.maxEventLoopLagMs
            ? `event loop lagging ${Math.round(lagMs)} ms`
            : undefined;
    if (reason) {
      refused.inc({ reason: reason.includes('batches') ? 'batches' : reason.includes('database') ? 'pool' : 'event_loop' });
      // The body stays unread: closing the connection after the answer is what keeps it from being read at all.
      res.setHeader('Connection', 'close');
      next(new HttpProblem('OVERLOADED', `HQ is at capacity (${reason}); retry after the Retry-After`, { retryAfterSeconds: limits.retryAfterSeconds }));
      return;
    }
    inFlight++;
    res.once('close', () => inFlight--);
    next();
  }) as Admission;
  admit.close = () => {
    clearInterval(sampler);
    delay.disable();
  };
  return admit;
}
