import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { HealthCheck, Logger, Registry } from '@tillstream/observability';
import type { Role } from '@tillstream/contracts';
import { useAuthentication, type AuthenticationOptions } from './auth.ts';
import { cardNumberGuard } from './card-guard.ts';
import { hardenServer } from './edge.ts';
import { operationsRouter } from './health.ts';
import { httpMetrics } from './metrics.ts';
import { HttpProblem, problemMiddleware } from './problem.ts';
import { requestLogging } from './request-log.ts';
import { plainHttpRefusal, type ListenOptions } from './tls.ts';

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
  /** Called when a request's path, query or headers held a card number (count it); the number is never passed on. */
  onCardNumber?: () => void;
}

/**
 * The express app every Tillstream API starts from: request metrics, a
 * request id and child logger per request (requestLogging), the
 * card-number guard on path, query and headers (before anything else reads
 * them), the operations routes (/healthz, /readyz, /metrics), the service's
 * routes, a problem+json 404 for everything else and the one error middleware.
 */
export function serviceApp(options: ServiceAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(httpMetrics(options.registry));
  app.use(requestLogging(options.logger));
  // Card numbers first (in the path, the query or a header they are refused before anything reads or logs them), then who is calling.
  app.use(cardNumberGuard(options.onCardNumber ? { onCardNumber: options.onCardNumber } : {}));
  useAuthentication(app, options.authentication);
  app.use(operationsRouter({ registry: options.registry, ready: options.ready, monitor: options.monitor }));
  for (const route of options.routes) app.use(route);
  app.use((req, _res, next) => {
    next(new HttpProblem('NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });
  app.use(problemMiddleware(options.logger, options.classify ? { classify: options.classify } : {}));
  return app;
}

/** An HTTP or HTTPS server (both close and report their address the same way). */
export type AnyServer = HttpServer | HttpsServer;

export interface Listening {
  server: AnyServer;
  /** The address it listens on, https:// when it serves TLS (port 0 picks a free port). */
  url: string;
  /** Stops accepting, closes each connection once idle (all of them after 10 s), resolves when the last is closed. */
  close(): Promise<void>;
}

/** How long a stopping server waits for requests in progress before it drops their connections. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Starts serving `app` on host:port: HTTPS with `options.tls`, plain HTTP
 * only on loopback or with `allowPlainHttp` (throws otherwise, before
 * binding). Resolves once listening, with its URL.
 */
export async function serve(app: Express, host: string, port: number, options: ListenOptions = {}): Promise<{ server: AnyServer; url: string }> {
  const refusal = plainHttpRefusal(host, options);
  if (refusal) throw new Error(refusal);
  const { tls } = options;
  const server: AnyServer = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          // Asked, not required: the route that needs a client certificate checks it
          // (clientCertificate), so a browser without one still reaches the dashboard.
          ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
          minVersion: 'TLSv1.2',
        },
        app,
      )
    : createHttpServer(app);
  hardenServer(server, app);
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return { server, url: `${tls ? 'https' : 'http'}://${host}:${address.port}` };
}

export async function listen(app: Express, host: string, port: number, options: ListenOptions = {}): Promise<Listening> {
  const { server, url } = await serve(app, host, port, options);
  return {
    server,
    url,
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
