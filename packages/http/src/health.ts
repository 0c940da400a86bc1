import { Router } from 'express';
import type { Readiness, Role } from '@tillstream/contracts';
import { runHealthChecks, type HealthCheck, type Registry } from '@tillstream/observability';
import { allow, anonymous } from './auth.ts';

/**
 * GET /healthz: the process is alive (no dependency checks: a broker outage
 * must not get the process restarted). GET /readyz: every dependency answers
 * within the timeout; 503 with the failing checks otherwise.
 * GET /metrics: Prometheus text. Only /healthz is anonymous: readiness
 * names dependencies and their errors, metrics the traffic; both need a
 * token of `monitor` (the site's viewer role; a Prometheus scrape sends it as
 * a bearer token).
 */
export function operationsRouter(options: { ready: Record<string, HealthCheck>; registry: Registry; monitor: Role; timeoutMs?: number }): Router {
  const router = Router();
  const monitor = allow(options.monitor);
  router.get('/healthz', anonymous('liveness for orchestrators: says only "ok"'), (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', monitor, async (_req, res) => {
    const report = await runHealthChecks(options.ready, { timeoutMs: options.timeoutMs ?? 1500 });
    res.status(report.ok ? 200 : 503).json({ status: report.ok ? 'ready' : 'not ready', checks: report.checks } satisfies Readiness);
  });
  router.get('/metrics', monitor, async (_req, res) => {
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });
  return router;
}
