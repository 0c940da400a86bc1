import { Router } from 'express';
import { runHealthChecks, type HealthCheck, type Registry } from '@tillstream/observability';

/**
 * GET /healthz: the process is alive (no dependency checks: a broker outage
 * must not get the process restarted). GET /readyz: every dependency answers
 * within the timeout; 503 with the failing checks otherwise.
 * GET /metrics: Prometheus text.
 */
export function operationsRouter(options: { ready: Record<string, HealthCheck>; registry: Registry; timeoutMs?: number }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await runHealthChecks(options.ready, { timeoutMs: options.timeoutMs ?? 1500 });
    res.status(report.ok ? 200 : 503).json({ status: report.ok ? 'ready' : 'not ready', checks: report.checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });
  return router;
}
