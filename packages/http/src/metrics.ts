import type { Request, RequestHandler, Response } from 'express';

/**
 * The express pattern a request matched ("/v1/inventory/items/:sku"), once
 * answered; "unmatched" when none did. Never the raw path: it is what
 * metrics and logs name a request by (a raw path may hold anything).
 */
export function routeOf(req: Request, res: Response): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  // A handler without an express pattern (a forwarded prefix) may name its route in res.locals.route.
  const named = (res.locals as { route?: unknown }).route;
  return typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : typeof named === 'string' ? named : 'unmatched';
}
import { Counter, Histogram, type Registry } from '@tillstream/observability';

/**
 * Request count by route and status, and a latency histogram by route.
 * Routes are the express patterns ("/v1/inventory/items/:sku"), never raw
 * paths, so label cardinality stays bounded.
 */
export function httpMetrics(registry: Registry): RequestHandler {
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = routeOf(req, res);
      requests.inc({ route, method: req.method, status: String(res.statusCode) });
      duration.observe({ route, method: req.method }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
