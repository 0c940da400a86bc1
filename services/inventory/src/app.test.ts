import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { serveTestApp, testServicePool } from '@tillstream/consumer-service/testing';
import { createMetricsRegistry } from '@tillstream/observability';
import { bearer, testDatabase, testLogger, testTokens } from '@tillstream/testing';
import { createApp } from './app.ts';

describe('inventory createApp (PostgreSQL only, no broker)', () => {
  it('books a goods receipt and serves the level, ready on its database alone, each route owned', async () => {
    const db = await testDatabase({ target: 'store' });
    const tokens = await testTokens(db.pool, 'store');
    const url = await serveTestApp(
      createApp({
        pool: testServicePool(db, 'inventory'),
        logger: testLogger('inventory'),
        registry: createMetricsRegistry({ service: 'inventory' }),
        ledger: { storeId: 'S001', policy: { bandPercent: 20 } },
        bodyLimitBytes: 65_536,
        trendsUrl: 'http://127.0.0.1:1',
        syncUrl: 'http://127.0.0.1:1',
        timeZone: 'UTC',
      }),
    );
    const manager = bearer(tokens['store-manager']);

    const receipt = await fetch(`${url}/v1/inventory/receipts`, {
      method: 'POST',
      headers: { ...manager, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ reference: 'DN-1', supplier: 'Mill & Co', lines: [{ sku: 'FLOUR', quantity: 12 }] }),
    });
    expect(receipt.status).toBe(201);
    const item = await fetch(`${url}/v1/inventory/items/FLOUR`, { headers: manager });
    expect(await item.json()).toMatchObject({ sku: 'FLOUR', onHand: 12 });

    const ready = await fetch(`${url}/readyz`, { headers: bearer(tokens['store-viewer']) });
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: { name: string }[] }).checks.map((c) => c.name)).toEqual(['database']);
    expect((await fetch(`${url}/v1/inventory/items/FLOUR`)).status).toBe(401);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
