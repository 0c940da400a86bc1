import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { HealthCheck, Logger, Registry } from '@tillstream/observability';
import type { Role } from '@tillstream/contracts';
import { useAuthentication, type AuthenticationOptions } from './auth.ts';
import { hardenServer } from './edge.ts';
import { operationsRouter } from './health.ts';
import { httpMetrics } from './metrics.ts';
import { HttpProblem, problemMiddleware } from './problem.ts';

export interface ServiceAppOptions {
  registry: Registry;
  logger: Logger;
  /** Readiness checks for /readyz, by dependency name. */
  ready: Record<string, HealthCheck>;
  /** The service's own routes, in order. */
  routes: Array<Router | RequestHandler>;
  /** Who is calling (see useAuthentication): every route but /healthz declares who may. */
  authentication: AuthenticationOptions;
  /** The role that may read /readyz and /metrics (the site's viewer). */
  monitor: Role;
  /** Names driver errors before they become problems (see problemMiddleware). */
  classify?: (err: unknown) => unknown;
}

/**
 * The express app every Tillstream API starts from: request metrics, the
 * operations routes (/healthz, /readyz, /metrics), the service's routes, a
 * problem+json 404 for everything else and the one error middleware.
 */
export function serviceApp(options: ServiceAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(httpMetrics(options.registry));
  useAuthentication(app, options.authentication);
  app.use(operationsRouter({ registry: options.registry, ready: options.ready, monitor: options.monitor }));
  for (const route of options.routes) app.use(route);
  app.use((req, _res, next) => {
    next(new HttpProblem('NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });
  app.use(problemMiddleware(options.logger, options.classify ? { classify: options.classify } : {}));
  return app;
}

export interface Listening {
  server: Server;
  /** The address it listens on (port 0 picks a free port). */
  url: string;
  /** Stops accepting, closes each connection once idle (all of them after 10 s), resolves when the last is closed. */
  close(): Promise<void>;
}

/** How long a stopping server waits for requests in progress before it drops their connections. */
const CLOSE_GRACE_MS = 10_000;

export async function listen(app: Express, host: string, port: number): Promise<Listening> {
  const server = app.listen(port, host);
  hardenServer(server, app);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() closes the connections idle right now, but a keep-alive
      // client that keeps sending (a store's uploader, a proxy) would hold
      // its connection open for ever: close each one as soon as it is idle,
      // and whatever is left after the grace period.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      return closed.finally(() => {
        clearInterval(sweep);
        clearTimeout(force);
      });
    },
  };
}
