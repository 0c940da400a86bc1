import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Registry };
export { Gauge, Histogram } from 'prom-client';

/**
 * One registry per service instance (not prom-client's global one), so tests
 * can run several services in one process without metric name clashes.
 */
export function createMetricsRegistry(options: { service: string; defaultMetrics?: boolean }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * `dead_lettered_total{service,topic,code}`: records a service's consumers set
 * aside (each also has a quarantine entry). One counter per registry, however
 * many consumers a service runs; `service` is the registry's default label.
 */
export function deadLetteredCounter(registry: Registry): Counter<'topic' | 'code'> {
  const existing = registry.getSingleMetric('dead_lettered_total');
  if (existing) return existing as Counter<'topic' | 'code'>;
  return new Counter({
    name: 'dead_lettered_total',
    help: 'Records dead-lettered (and quarantined) by this service, by topic and error code',
    labelNames: ['topic', 'code'],
    registers: [registry],
  });
}
