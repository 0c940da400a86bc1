import express, { type Express } from 'express';
import { classifyPgError, findPrincipal, type Pool } from '@tillstream/db';
import { ingestApi } from '@tillstream/contracts';
import { HttpProblem, cardNumberGuard, httpMetrics, openApiRouter, operationsRouter, problemMiddleware, requestLogging, useAuthentication } from '@tillstream/http';
import type { Logger, Registry } from '@tillstream/observability';
import { terminalAuth } from './auth.ts';
import type { ProducerGate } from './broker.ts';
import type { Capture } from './capture.ts';
import type { IngestMetrics } from './metrics.ts';
import { TerminalLimiter, type Clock, type RefusalPacing, type TerminalLimits } from './rate-limit.ts';
import { transactionsRouter } from './routes/transactions.ts';

export interface IngestConfig {
  storeId: string;
  bodyLimitBytes: number;
  batchBodyLimitBytes: number;
  retentionDays: number;
  maxClockSkewMinutes: number;
  limits: TerminalLimits;
  /** How repeated refusals of one terminal are paced; default DEFAULT_PACING. */
  pacing?: RefusalPacing;
  tokenCacheMs: number;
}

export interface IngestDeps {
  config: IngestConfig;
  pool: Pool;
  gate: ProducerGate;
  capture: Capture;
  metrics: IngestMetrics;
  registry: Registry;
  logger: Logger;
  /** The rate limits' clock (ms, monotonic); tests inject one to decide when budgets refill. */
  clock?: Clock;
}

/** The ingest HTTP API as an express app, without listening (tests and main.ts listen). */
export function createApp(deps: IngestDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(httpMetrics(deps.registry));
  app.use(requestLogging(deps.logger));
  // Path, query and headers (the terminal's token aside) are scanned before auth or any route reads them.
  app.use(cardNumberGuard({ onCardNumber: () => deps.metrics.cardNumbers.inc() }));
  // Terminals and the store's people share the store database: one lookup tells them apart.
  useAuthentication(app, {
    lookup: (credential) => findPrincipal(deps.pool, 'store', credential),
    onLookupError: classifyPgError,
    cacheMs: deps.config.tokenCacheMs,
  });
  app.use(
    operationsRouter({
      registry: deps.registry,
      monitor: 'store-viewer',
      ready: {
        broker: async () => {
          if (!deps.gate.isReady()) throw new Error(deps.gate.whyNotReady());
        },
        database: async () => {
          await deps.pool.query('SELECT 1');
        },
        journal: async () => {
          if (!deps.capture.isOpen) throw new Error("the journal is catching up with the broker's log");
        },
      },
    }),
  );
  app.use(openApiRouter({ title: 'Tillstream ingest API', description: 'POS terminals post transactions (contract v1). A 2xx means the store broker has it on disk.', operations: ingestApi }));
  // Per route (not app.use) so that a 401 or 429 is counted under its route in the metrics.
  const auth = terminalAuth({ storeId: deps.config.storeId });
  const limiter = new TerminalLimiter(deps.config.limits, deps.clock, deps.config.pacing);
  app.use(transactionsRouter(deps, auth, limiter));
  app.use((req, _res, next) => {
    next(new HttpProblem('NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });
  app.use(problemMiddleware(deps.logger));
  return app;
}
