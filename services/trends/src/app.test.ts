import { describe, expect, it } from 'vitest';
import { serveTestApp, testServicePool } from '@tillstream/consumer-service/testing';
import { createMetricsRegistry } from '@tillstream/observability';
import { bearer, testDatabase, testLogger, testTokens } from '@tillstream/testing';
import { createApp } from './app.ts';

describe('trends createApp (PostgreSQL only, no broker)', () => {
  it("answers a day's summary with nothing booked as zeros, and refuses a caller without a token", async () => {
    const db = await testDatabase({ target: 'store' });
    const tokens = await testTokens(db.pool, 'store');
    const url = await serveTestApp(
      createApp({ pool: testServicePool(db, 'trends'), logger: testLogger('trends'), registry: createMetricsRegistry({ service: 'trends' }), ctx: { storeId: 'S001', timeZone: 'Europe/London' } }),
    );
    const summary = await fetch(`${url}/v1/sales/summary?businessDay=2026-11-02`, { headers: bearer(tokens['store-viewer']) });
    expect(summary.status).toBe(200);
    expect(await summary.json()).toMatchObject({ storeId: 'S001', businessDay: '2026-11-02', revision: 0, byTender: [], byCategory: [] });
    expect((await fetch(`${url}/v1/sales/summary`)).status).toBe(401);
    const metrics = await fetch(`${url}/metrics`, { headers: bearer(tokens['store-viewer']) });
    expect(await metrics.text()).toMatch(/http_requests_total\{route="\/v1\/sales\/summary",method="GET",status="200",service="trends"\} 1/);
  });
});
