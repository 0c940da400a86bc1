import express from 'express';
import { describe, expect, it, vi } from 'vitest';
import { createPool, type Pool } from '@tillstream/db';
import { createMetricsRegistry } from '@tillstream/observability';
import { bearer, capturingLogger, testDatabase, testTokens } from '@tillstream/testing';
import { siteApp } from './app.ts';
import { serve, startService, type RuntimeEnv } from './runtime.ts';

describe('serve', () => {
  it('stops workers, then drains, then links, then the pool; a step past the deadline is left behind and the later ones still run', async () => {
    const db = await testDatabase({ target: 'store' });
    const tokens = await testTokens(db.pool, 'store');
    const { logger, lines: logs } = capturingLogger('runtime-test');
    const pool = createPool({ connectionString: db.urlFor('inventory'), logger, applicationName: 'runtime-test', max: 2 });
    const stopped: string[] = [];
    const service = await serve({
      name: 'runtime-test',
      logger,
      pool,
      app: ({ consuming }) => siteApp({ pool, logger, registry: createMetricsRegistry({ service: 'runtime-test' }), site: 'store', consuming, routes: [] }),
      http: { host: '127.0.0.1', port: 0 },
      workers: [
        { name: 'timer', stop: () => void stopped.push('timer') },
        // A worker whose stop never ends (a wedged Redis, say): the deadline must cut it short.
        { name: 'wedged', stop: () => new Promise<void>(() => undefined) },
      ],
      drains: [{ name: 'outbox', stop: () => void stopped.push('outbox') }],
      links: [{ name: 'gate', stop: () => void stopped.push('gate') }],
      stopDeadlineMs: 300,
    });
    // No broker: nothing to consume, so ready as soon as the database answers.
    const ready = await fetch(`${service.url}/readyz`, { headers: bearer(tokens['store-viewer']) });
    expect(ready.status).toBe(200);

    await Promise.all([service.stop(), service.stop()]);
    expect(stopped).toEqual(['timer', 'outbox', 'gate']);
    expect(pool.ended).toBe(true);
    const overran = logs.map((l) => JSON.parse(l) as { msg: string; step?: string }).filter((l) => l.msg.includes('overran'));
    expect(overran.map((l) => l.step)).toContain('wedged');
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  });
});

describe('startService', () => {
  it('refuses plain HTTP off loopback before building anything, and ends the pool it built when the service cannot start', async () => {
    const db = await testDatabase({ target: 'store' });
    const env: RuntimeEnv = { LOG_LEVEL: 'silent', DATABASE_URL: db.urlFor('inventory'), DATABASE_POOL_MAX: 2, HOST: '0.0.0.0', PORT: 0 };
    const kafka = { brokers: ['127.0.0.1:9092'], topicPrefix: '' };
    const build = vi.fn(() => ({ app: () => express() }));
    await expect(startService({ name: 'runtime-test', env, kafka }, build)).rejects.toThrow(/plain HTTP/i);
    expect(build).not.toHaveBeenCalled();

    let built: Pool | undefined;
    const failing = startService({ name: 'runtime-test', env: { ...env, HOST: '127.0.0.1' }, storeId: 'store-1', kafka }, async ({ pool }) => {
      built = pool;
      await pool.query('select 1');
      throw new Error('the service could not start');
    });
    await expect(failing).rejects.toThrow('the service could not start');
    expect(built?.ended).toBe(true);
  });
});
