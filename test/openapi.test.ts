import type { Express } from 'express';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { HqDashboardSnapshot, StoreDashboardSnapshot, dashboardApi, hqApi, ingestApi, inventoryApi, salesApi, syncApi, type ApiOperation, type Role, type SyncStatus } from '@tillstream/contracts';
import { listRoutes, openApiPath, operationsApi, routeFor, type AppRoute } from '@tillstream/http';
import { bearer, makeTransaction, testStoreFetch, waitFor } from '@tillstream/testing';
import { startChain, type Chain } from './chain.ts';

interface Documented {
  name: string;
  url: string;
  app: Express;
  /** What the service documents (the same lists its app mounts with openApiRouter). */
  operations: readonly ApiOperation[];
  tokens: Partial<Record<Role, string>>;
}

function servicesOf(chain: Chain): Documented[] {
  const store: Partial<Record<Role, string>> = { terminal: chain.ingest.token, ...chain.storeTokens };
  const hq: Partial<Record<Role, string>> = { store: chain.storeToken, ...chain.hqTokens };
  return [
    { name: 'ingest', url: chain.ingest.url, app: chain.ingest.service.app, operations: ingestApi, tokens: store },
    { name: 'inventory', url: chain.inventory.url, app: chain.inventory.service.app, operations: [...inventoryApi, ...salesApi, ...syncApi, ...dashboardApi(StoreDashboardSnapshot)], tokens: store },
    { name: 'trends', url: chain.trends.url, app: chain.trends.service.app, operations: salesApi, tokens: store },
    { name: 'sync', url: chain.sync.url, app: chain.sync.app, operations: syncApi, tokens: store },
    { name: 'hq', url: chain.hq.url, app: chain.hq.app, operations: [...hqApi, ...dashboardApi(HqDashboardSnapshot)], tokens: hq },
  ];
}

const DAY_MS = 86_400_000;

/** What a documented GET is called with: its path's parameters, and the query parameters it requires. */
function sample(path: string, today: string): string {
  const filled = path.replace(':sku', 'SKU-1').replace(':storeId', 'S001').replace(':file', 'live.js');
  const tomorrow = new Date(Date.parse(today) + DAY_MS).toISOString().slice(0, 10);
  const query: Record<string, string> = {
    '/v1/sales/timeseries': `granularity=1h&from=${today}T00:00:00Z&to=${tomorrow}T00:00:00Z`,
    '/v1/sales/skus': `businessDay=${today}`,
    '/v1/sales/categories': `businessDay=${today}`,
  };
  return query[path] ? `${filled}?${query[path]}` : filled;
}

/** The documented routes as "METHOD /express/:path" (OpenAPI's {param} back to express's :param). */
function documentedKeys(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
}

describe('every service documents its API', () => {
  it('serves /openapi.json (OpenAPI 3.1) listing exactly the routes its app answers, and every documented GET answers real data in its documented shape', async () => {
    const chain = await startChain();
    const today = new Date().toISOString().slice(0, 10);
    const manager = { ...bearer(chain.storeTokens['store-manager']), 'content-type': 'application/json' };

    // Real data everywhere: a catalog from HQ, a delivery, its reorder point, sales through ingest that
    // take SKU-1 below it (an alert), until trends, sync and HQ's views have all of it.
    const published = await fetch(`${chain.hq.url}/v1/catalog`, {
      method: 'POST',
      headers: { ...bearer(chain.hqTokens['hq-admin']), 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: 'SKU-1', description: 'Sourdough', category: 'Bread', unitPrice: 350, reorderPoint: 4, reorderQuantity: 10, maximum: 40 }] }),
    });
    expect(published.status).toBe(201);
    const storeViewer = { headers: bearer(chain.storeTokens['store-viewer']) };
    const read = async <T>(url: string, init: RequestInit): Promise<T> => (await (await fetch(url, init)).json()) as T;
    await waitFor(async () => (await read<SyncStatus>(`${chain.sync.url}/v1/sync/status`, storeViewer)).catalog?.acked === true, {
      timeoutMs: 30_000,
      message: "the store to apply and acknowledge HQ's catalog",
    });
    const receipt = await fetch(`${chain.inventory.url}/v1/inventory/receipts`, {
      method: 'POST',
      headers: { ...manager, 'idempotency-key': 'openapi-receipt-1' },
      body: JSON.stringify({ reference: 'DN-1', lines: [{ sku: 'SKU-1', quantity: 6 }, { sku: 'SKU-2', quantity: 3 }] }),
    });
    expect(receipt.status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const res = await chain.ingest.post('/v1/transactions', makeTransaction([{ sku: 'SKU-1' }, { sku: 'SKU-2', quantity: 1, unitPrice: 120 }], { storeId: 'S001', sequenceNumber: i + 1 }));
      expect(res.status).toBe(201);
    }
    const hqViewer = { headers: bearer(chain.hqTokens['hq-viewer']) };
    await waitFor(async () => (await read<{ alerts: unknown[] }>(`${chain.inventory.url}/v1/inventory/alerts`, storeViewer)).alerts.length > 0, { timeoutMs: 30_000, message: 'the low-stock alert' });
    await waitFor(async () => (await read<{ figures: { transactions: number } }>(`${chain.trends.url}/v1/sales/summary`, storeViewer)).figures.transactions === 3, { timeoutMs: 30_000, message: "trends' day" });
    await waitFor(async () => (await read<{ sales: Array<{ transactions: number }> }>(`${chain.hq.url}/v1/sales/stores?businessDay=${today}`, hqViewer)).sales[0]?.transactions === 3, { timeoutMs: 60_000, message: "HQ's view of the day" });
    await waitFor(async () => (await read<{ stores: unknown[] }>(`${chain.hq.url}/v1/stock/SKU-1`, hqViewer)).stores.length > 0, { timeoutMs: 60_000, message: "HQ's view of SKU-1's stock" });
    await waitFor(async () => (await read<{ days: unknown[] }>(`${chain.hq.url}/v1/reconciliation`, hqViewer)).days.length > 0, { timeoutMs: 60_000, message: "the day's manifest at HQ" });

    const asStore = await testStoreFetch('S001');
    const faults: string[] = [];
    let validated = 0;
    for (const s of servicesOf(chain)) {
      const routes: AppRoute[] = listRoutes(s.app);
      const res = await fetch(`${s.url}/openapi.json`);
      expect(res.status, `${s.name} /openapi.json`).toBe(200);
      const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown[] }>> };
      expect(doc.openapi).toBe('3.1.0');

      // Every route the app answers is documented, and nothing is documented that it does not answer.
      const documented = documentedKeys(doc);
      for (const route of routes) {
        const key = `${route.method} ${route.path}`;
        const covered = route.prefix ? documented.some((d) => d.split(' ')[1]!.startsWith(`${route.path}/`)) : documented.includes(key);
        if (!covered) faults.push(`${s.name} ${key}: answered but not in /openapi.json`);
      }
      for (const key of documented) {
        const [method, path] = key.split(' ') as [ApiOperation['method'], string];
        if (!routeFor(routes, { method, path })) faults.push(`${s.name} ${key}: in /openapi.json but no route answers it`);
      }

      // Every documented GET, called as its owner with real data, answers its documented status and shape.
      for (const op of [...operationsApi, ...s.operations]) {
        if (op.method !== 'GET') continue;
        const key = `${s.name} GET ${op.path}`;
        const route = routeFor(routes, op);
        const owner = route?.owner;
        if (!owner) continue; // reported above
        const ok = op.responses[200];
        if (!ok || ok.contentType === 'text/event-stream') continue; // a live stream has no end to validate
        // The document's security requirement is the guard's: the roles its route declares, none when anonymous.
        const security = doc.paths[openApiPath(op.path)]?.get?.security;
        if ('anonymous' in owner ? security?.length !== 0 : !JSON.stringify(security).includes(JSON.stringify(owner.roles))) faults.push(`${key}: security ${JSON.stringify(security)} is not its owner's`);
        const role = 'roles' in owner ? owner.roles[0] : undefined;
        const token = role ? s.tokens[role] : undefined;
        if (role && !token) throw new Error(`${key}: no token of ${role} in this test`);
        const call = role === 'store' ? asStore : fetch;
        const answer = await call(`${s.url}${sample(op.path, today)}`, { headers: token ? bearer(token) : {} });
        if (answer.status !== 200) {
          faults.push(`${key}: ${answer.status} ${await answer.text()}`);
          continue;
        }
        const contentType = answer.headers.get('content-type') ?? '';
        const declared = ok.contentType ?? 'application/json';
        if (!(declared.endsWith('/*') ? contentType.startsWith(declared.slice(0, -1)) : contentType.startsWith(declared))) faults.push(`${key}: content-type ${contentType}, documented ${declared}`);
        if (declared !== 'application/json') {
          await answer.arrayBuffer();
          continue;
        }
        const parsed = (ok.schema as z.ZodType).safeParse(await answer.json());
        if (!parsed.success) faults.push(`${key}: the answer does not match its schema: ${JSON.stringify(parsed.error.issues.slice(0, 5))}`);
        else validated++;
      }
    }
    expect(faults).toEqual([]);
    // Every JSON GET of every service (the store API's sales and sync twice: direct and through the store port).
    expect(validated).toBeGreaterThan(30);
  });
});
