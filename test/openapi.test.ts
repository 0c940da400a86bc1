import type { Express } from 'express';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { HqDashboardSnapshot, ProblemDocument, StoreDashboardSnapshot, dashboardApi, forecastApi, hqApi, ingestApi, inventoryApi, lossPreventionApi, salesApi, syncApi, type ApiOperation, type Role, type SyncStatus } from '@tillstream/contracts';
import { listRoutes, openApiPath, operationsApi, routeFor, type AppRoute } from '@tillstream/http';
import { bearer, makeTransaction, testStoreFetch, waitFor } from '@tillstream/testing';
import { DEFAULT_FORECAST_POLICY, runForecasts } from '@tillstream/trends';
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
    { name: 'inventory', url: chain.inventory.url, app: chain.inventory.service.app, operations: [...inventoryApi, ...salesApi, ...forecastApi, ...lossPreventionApi, ...syncApi, ...dashboardApi(StoreDashboardSnapshot)], tokens: store },
    { name: 'trends', url: chain.trends.url, app: chain.trends.service.app, operations: [...salesApi, ...forecastApi, ...lossPreventionApi], tokens: store },
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

/** A body as JSON; what is not JSON stays text (and then fails a JSON schema, as a fault, not a throw). */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Stands for the site's viewer token in a sign-in form. */
const VIEWER = '$viewer';

/** One call of a documented write: its body (JSON unless `form`), the headers it needs, and the status it answers. */
interface Write {
  body?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** Send it without the owner's credentials (a sign-in, whose token is the body). */
  anonymous?: boolean;
  status: number;
}

/** The success call and one problem call of every documented operation that is no GET, by "METHOD /path" (path parameters filled). */
interface WriteSamples {
  ok: Write[];
  /** None for sign-in: it answers its own page for anything but a known viewer's token (the family's problem is sign-out's). */
  problem?: Write;
  path?: string;
}

/** What every documented write is called with: real ids and data of the chain where it has them. */
function writeSamples(today: string, data: { transaction: { transactionId: string }; manifest: unknown; catalogVersion: number }): Record<string, WriteSamples> {
  const key = (k: string) => ({ 'idempotency-key': k });
  const tx = makeTransaction([{ sku: 'SKU-1' }], { storeId: 'S001', sequenceNumber: 4 });
  const batched = makeTransaction([{ sku: 'SKU-2', quantity: 1, unitPrice: 120 }], { storeId: 'S001', sequenceNumber: 5 });
  const batch = { batchId: 'S001-900001-900001', records: [{ stream: 'transaction', key: data.transaction.transactionId, data: data.transaction }], backlog: { records: 0, oldestAt: null } };
  const receipt = { reference: 'DN-2', supplier: 'Mill', lines: [{ sku: 'SKU-1', quantity: 2 }] };
  return {
    'POST /v1/transactions': { ok: [{ body: tx, status: 201 }, { body: tx, status: 200 }], problem: { body: { ...tx, lines: [] }, status: 422 } },
    'POST /v1/transactions/batch': { ok: [{ body: { transactions: [batched] }, status: 200 }], problem: { body: { transactions: [] }, status: 400 } },
    'PUT /v1/inventory/items/:sku/settings': {
      path: '/v1/inventory/items/SKU-2/settings',
      ok: [{ body: { reorderPoint: 2, reorderQuantity: 5, maximum: 20 }, status: 200 }],
      problem: { body: { reorderPoint: 5, reorderQuantity: null, maximum: 3 }, status: 422 },
    },
    'POST /v1/inventory/receipts': { ok: [{ body: receipt, headers: key('openapi-receipt-2'), status: 201 }, { body: receipt, headers: key('openapi-receipt-2'), status: 200 }], problem: { body: receipt, status: 400 } },
    'POST /v1/inventory/orders': {
      ok: [
        { body: { reference: 'PO-1', expectedOn: today, lines: [{ sku: 'SKU-1', quantity: 12 }] }, headers: key('openapi-order-1'), status: 201 },
        { body: { reference: 'PO-1', expectedOn: today, lines: [{ sku: 'SKU-1', quantity: 12 }] }, headers: key('openapi-order-1'), status: 200 },
      ],
      problem: { body: { reference: 'PO-2', expectedOn: today, lines: [] }, headers: key('openapi-order-2'), status: 400 },
    },
    'POST /v1/inventory/counts': { ok: [{ body: { reference: 'CT-1', lines: [{ sku: 'SKU-2', counted: 2 }] }, headers: key('openapi-count-1'), status: 201 }], problem: { body: { lines: [] }, headers: key('openapi-count-2'), status: 400 } },
    'POST /v1/inventory/adjustments': {
      ok: [{ body: { reason: 'DAMAGE', lines: [{ sku: 'SKU-1', quantity: -1 }] }, headers: key('openapi-adjustment-1'), status: 201 }],
      problem: { body: { reason: 'DAMAGE', lines: [{ sku: 'SKU-1', quantity: 1 }] }, headers: key('openapi-adjustment-2'), status: 422 },
    },
    'POST /v1/inventory/transfers': {
      ok: [{ body: { direction: 'OUT', counterparty: 'S002', reference: 'TR-1', lines: [{ sku: 'SKU-1', quantity: 1 }] }, headers: key('openapi-transfer-1'), status: 201 }],
      problem: { body: { direction: 'SIDEWAYS', counterparty: 'S002', reference: 'TR-2', lines: [{ sku: 'SKU-1', quantity: 1 }] }, headers: key('openapi-transfer-2'), status: 400 },
    },
    'POST /v1/stores/:storeId/batches': { path: '/v1/stores/S001/batches', ok: [{ body: batch, headers: key(batch.batchId), status: 201 }, { body: batch, headers: key(batch.batchId), status: 200 }], problem: { body: batch, status: 400 } },
    'POST /v1/stores/:storeId/manifests': { path: '/v1/stores/S001/manifests', ok: [{ body: data.manifest, status: 202 }], problem: { body: { storeId: 'S001', businessDay: today }, status: 400 } },
    'POST /v1/stores/:storeId/heartbeat': { path: '/v1/stores/S001/heartbeat', ok: [{ body: { backlog: { records: 0, oldestAt: null } }, status: 204 }], problem: { body: { backlog: { records: -1, oldestAt: null } }, status: 400 } },
    'POST /v1/stores/:storeId/catalog/acks': { path: '/v1/stores/S001/catalog/acks', ok: [{ body: { version: data.catalogVersion }, status: 204 }], problem: { body: { version: 0 }, status: 400 } },
    'POST /v1/catalog': {
      ok: [{ body: { items: [{ sku: 'SKU-1', description: 'Sourdough', category: 'Bread', unitPrice: 360, reorderPoint: 4, reorderQuantity: 10, maximum: 40 }] }, status: 201 }],
      problem: { body: { items: [] }, status: 400 },
    },
    // Sign-in takes a form, not the owner's credentials: a viewer's token of the site in, a cookie out (signing out again).
    'POST /v1/session': {
      ok: [
        { form: { token: VIEWER }, anonymous: true, status: 303 },
        { form: { token: 'tt_unknown' }, anonymous: true, status: 401 },
        { body: { token: VIEWER }, anonymous: true, status: 401 },
        { form: { token: VIEWER, padding: 'x'.repeat(5000) }, anonymous: true, status: 401 },
      ],
    },
    'POST /v1/session/end': { ok: [{ status: 303 }], problem: { anonymous: true, status: 401 } },
  };
}

/** The documented routes as "METHOD /express/:path" (OpenAPI's {param} back to express's :param). */
function documentedKeys(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
}

describe('every service documents its API', () => {
  it('serves /openapi.json (OpenAPI 3.1) listing exactly the routes its app answers, every documented GET answers real data in its documented shape, and every documented write answers a valid call and an invalid one as documented', async () => {
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
    const sales = Array.from({ length: 3 }, (_, i) => makeTransaction([{ sku: 'SKU-1' }, { sku: 'SKU-2', quantity: 1, unitPrice: 120 }], { storeId: 'S001', sequenceNumber: i + 1 }));
    for (const sale of sales) {
      const res = await chain.ingest.post('/v1/transactions', sale);
      expect(res.status).toBe(201);
    }
    const hqViewer = { headers: bearer(chain.hqTokens['hq-viewer']) };
    await waitFor(async () => (await read<{ alerts: unknown[] }>(`${chain.inventory.url}/v1/inventory/alerts`, storeViewer)).alerts.length > 0, { timeoutMs: 30_000, message: 'the low-stock alert' });
    await waitFor(async () => (await read<{ figures: { transactions: number } }>(`${chain.trends.url}/v1/sales/summary`, storeViewer)).figures.transactions === 3, { timeoutMs: 30_000, message: "trends' day" });
    // SKU-1's demand forecast for /v1/forecast: the worker's round as it would run tomorrow (today's sales its last day).
    const tomorrow = new Date(Date.now() + 86_400_000);
    await waitFor(async () => (await runForecasts(chain.trends.db.pool, { storeId: 'S001', timeZone: 'UTC' }, DEFAULT_FORECAST_POLICY, tomorrow)).ran, { timeoutMs: 30_000, message: 'a forecasting round' });
    await waitFor(async () => (await read<{ sales: Array<{ transactions: number }> }>(`${chain.hq.url}/v1/sales/stores?businessDay=${today}`, hqViewer)).sales[0]?.transactions === 3, { timeoutMs: 60_000, message: "HQ's view of the day" });
    await waitFor(async () => (await read<{ stores: unknown[] }>(`${chain.hq.url}/v1/stock/SKU-1`, hqViewer)).stores.length > 0, { timeoutMs: 60_000, message: "HQ's view of SKU-1's stock" });
    await waitFor(async () => (await read<{ days: unknown[] }>(`${chain.hq.url}/v1/reconciliation`, hqViewer)).days.length > 0, { timeoutMs: 60_000, message: "the day's manifest at HQ" });

    const asStore = await testStoreFetch('S001');
    const faults: string[] = [];
    let validated = 0;
    let refusedQueries = 0;
    for (const s of servicesOf(chain)) {
      const routes: AppRoute[] = listRoutes(s.app);
      const res = await fetch(`${s.url}/openapi.json`);
      expect(res.status, `${s.name} /openapi.json`).toBe(200);
      const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; responses?: Record<string, { content?: Record<string, unknown> }> }>> };
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
        // A query it does not take is refused with the BAD_QUERY problem its document lists.
        if (!op.query) continue;
        const target = sample(op.path, today);
        const refused = await call(`${s.url}${target}${target.includes('?') ? '&' : '?'}unexpected=1`, { headers: token ? bearer(token) : {} });
        const text = await refused.text();
        const listed = doc.paths[openApiPath(op.path)]?.get?.responses?.[String(refused.status)]?.content?.['application/problem+json'];
        const problem = ProblemDocument.safeParse(jsonOf(text));
        if (refused.status !== 400 || !listed || !(refused.headers.get('content-type') ?? '').startsWith('application/problem+json') || !problem.success || problem.data.code !== 'BAD_QUERY') {
          faults.push(`${key}?unexpected=1: ${refused.status}${listed ? '' : ' (not documented as a problem)'} ${refused.headers.get('content-type')} ${text.slice(0, 300)}`);
        } else refusedQueries++;
      }
    }
    const manifest = (await chain.hqDb.pool.query<{ manifest: unknown }>("SELECT manifest FROM hq_manifests WHERE store_id = 'S001' AND business_day = $1", [today])).rows[0]?.manifest;
    const catalogVersion = (await read<SyncStatus>(`${chain.sync.url}/v1/sync/status`, storeViewer)).catalog?.version ?? 1;
    const samples = writeSamples(today, { transaction: sales[0]!, manifest, catalogVersion });
    let written = 0;
    for (const s of servicesOf(chain)) {
      const routes = listRoutes(s.app);
      const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
      for (const op of s.operations) {
        if (op.method === 'GET') continue;
        const key = `${s.name} ${op.method} ${op.path}`;
        const sample = samples[`${op.method} ${op.path}`];
        const owner = routeFor(routes, op)?.owner;
        if (!sample || !owner) {
          faults.push(`${key}: no sample call in this test`);
          continue;
        }
        const role = 'roles' in owner ? owner.roles[0] : undefined;
        const token = role ? s.tokens[role] : undefined;
        const viewer = s.tokens['store-viewer'] ?? s.tokens['hq-viewer'] ?? '';
        const call = (w: Write) => {
          const headers: Record<string, string> = { ...(w.anonymous || !token ? {} : bearer(token)), ...w.headers };
          let body: string | undefined;
          if (w.form) {
            headers['content-type'] = 'application/x-www-form-urlencoded';
            body = new URLSearchParams(Object.fromEntries(Object.entries(w.form).map(([k, v]) => [k, v === VIEWER ? viewer : v]))).toString();
          } else if (w.body !== undefined) {
            headers['content-type'] = 'application/json';
            body = JSON.stringify(w.body, (_k, v: unknown) => (v === VIEWER ? viewer : v));
          }
          return (role === 'store' ? asStore : fetch)(`${s.url}${sample.path ?? op.path}`, { method: op.method, headers, body, redirect: 'manual' });
        };
        for (const w of sample.ok) {
          const answer = await call(w);
          const documented = op.responses[answer.status];
          const text = await answer.text();
          if (answer.status !== w.status || !documented) {
            faults.push(`${key}: ${answer.status} (expected ${w.status}${documented ? '' : ', and not documented'}) ${text.slice(0, 300)}`);
            continue;
          }
          const contentType = answer.headers.get('content-type') ?? '';
          for (const name of Object.keys(documented.headers ?? {})) if (answer.headers.get(name) === null) faults.push(`${key} ${answer.status}: no ${name} header`);
          if (!documented.schema) {
            if (text !== '' && answer.status !== 303) faults.push(`${key} ${answer.status}: a body where none is documented: ${text.slice(0, 100)}`);
            written++;
            continue;
          }
          const declared = documented.contentType ?? 'application/json';
          if (!contentType.startsWith(declared)) faults.push(`${key} ${answer.status}: content-type ${contentType}, documented ${declared}`);
          const parsed = documented.schema.safeParse(declared === 'application/json' ? jsonOf(text) : text);
          if (!parsed.success) faults.push(`${key} ${answer.status}: the answer does not match its schema: ${JSON.stringify(parsed.error.issues.slice(0, 5))}`);
          else written++;
        }
        if (!sample.problem) continue;
        // One refusal per operation: a problem document, with a status its document lists as one.
        const refused = await call(sample.problem);
        const text = await refused.text();
        const listed = doc.paths[openApiPath(op.path)]?.[op.method.toLowerCase()]?.responses[String(refused.status)]?.content?.['application/problem+json'];
        if (refused.status !== sample.problem.status || !listed) faults.push(`${key}: refused with ${refused.status} (expected ${sample.problem.status}${listed ? '' : ', and not documented as a problem'}) ${text.slice(0, 300)}`);
        else if (!(refused.headers.get('content-type') ?? '').startsWith('application/problem+json')) faults.push(`${key} ${refused.status}: content-type ${refused.headers.get('content-type')}`);
        else {
          const parsed = ProblemDocument.safeParse(jsonOf(text));
          if (!parsed.success) faults.push(`${key} ${refused.status}: not a problem document: ${JSON.stringify(parsed.error.issues.slice(0, 5))}`);
          else written++;
        }
      }
    }
    expect(faults).toEqual([]);
    // Every write of every service: its success answers (replays included) and a refusal each.
    expect(written).toBe(42);
    // Every JSON GET of every service (the store API's sales and sync twice: direct and through the store port).
    expect(validated).toBeGreaterThan(30);
    // Every GET that takes a query, refusing one it does not take.
    expect(refusedQueries).toBe(29);
  });
});
