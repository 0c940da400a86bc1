import { describe, expect, it } from 'vitest';
import { serveTestApp, testServicePool } from '@tillstream/consumer-service/testing';
import { createMetricsRegistry } from '@tillstream/observability';
import { bearer, testDatabase, testLogger, testTokens } from '@tillstream/testing';
import { createApp } from './app.ts';

describe('sync createApp (PostgreSQL only, no broker)', () => {
  it('reports an empty backlog, a queue it cannot read and an HQ never called, and an empty quarantine', async () => {
    const db = await testDatabase({ target: 'store' });
    const tokens = await testTokens(db.pool, 'store');
    const url = await serveTestApp(
      createApp({
        storeId: 'S001',
        hqUrl: 'https://hq.invalid',
        pool: testServicePool(db, 'sync'),
        logger: testLogger('sync'),
        registry: createMetricsRegistry({ service: 'sync' }),
        link: { reachable: null, lastError: null, lastAttemptAt: null },
        // The queue as the status page sees it while Redis is away: no figures, no refusal.
        uploader: { counts: () => Promise.resolve(null), authError: null },
      }),
    );
    const viewer = bearer(tokens['store-viewer']);
    const status = await fetch(`${url}/v1/sync/status`, { headers: viewer });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ storeId: 'S001', hq: { url: 'https://hq.invalid', reachable: null }, backlog: { records: 0 }, lastSuccessAt: null, queue: null, queueError: null });
    const quarantine = await fetch(`${url}/v1/sync/quarantine`, { headers: viewer });
    expect(quarantine.status).toBe(200);
    expect((await fetch(`${url}/v1/sync/status`)).status).toBe(401);
  });
});
