import express from 'express';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger, createMetricsRegistry } from '@tillstream/observability';
import { listen, serviceApp } from './app.ts';
import { allow } from './auth.ts';
import { forward } from './forward.ts';
import { fixedAuthentication } from './testing.ts';

const logger = createLogger({ name: 'forward-test', level: 'silent' });
/** A store viewer's token (see fixedAuthentication): the front checks it before forwarding, and passes it on. */
const VIEWER = { authorization: 'Bearer token-store-viewer' };

/** The front: its own /v1/own route, and /v1/sales handed to `target`. */
async function front(target: string, timeoutMs?: number) {
  const own = express.Router().get('/v1/own', (_req, res) => void res.json({ own: true }));
  const app = serviceApp({
    registry: createMetricsRegistry({ service: 'front' }),
    logger,
    ready: {},
    authentication: fixedAuthentication(),
    monitor: 'store-viewer',
    routes: [own, forward({ prefix: '/v1/sales', target, name: 'the trends service', guard: allow('store-viewer'), ...(timeoutMs ? { timeoutMs } : {}) })],
  });
  const server = await listen(app, '127.0.0.1', 0);
  onTestFinished(() => server.close());
  return server.url;
}

async function backend() {
  const seen: Array<{ method: string; url: string; body: unknown; forwardedFor: unknown; requestId: unknown }> = [];
  // '/v1/sales/slow' never answers while the test runs: the front's own timeout is the only way its caller gets
  // an answer, however slow the machine (a handler answering after 1 s raced a 300 ms timeout).
  const held: Array<() => void> = [];
  const app = express();
  app.use(express.json());
  app.all('/v1/sales/{*rest}', (req, res) => {
    seen.push({ method: req.method, url: req.originalUrl, body: req.body, forwardedFor: req.headers['x-forwarded-for'], requestId: req.headers['x-request-id'] });
    if (req.path === '/v1/sales/missing') return void res.status(404).type('application/problem+json').json({ code: 'NOT_FOUND' });
    if (req.path === '/v1/sales/slow') return void held.push(() => res.json({ late: true }));
    res.status(req.method === 'POST' ? 201 : 200).setHeader('x-owner', 'trends').json({ path: req.path, query: req.query });
  });
  const server = await listen(app, '127.0.0.1', 0);
  const close = () => {
    for (const answer of held.splice(0)) answer();
    return server.close();
  };
  onTestFinished(close);
  return { url: server.url, seen, close };
}

describe('forward', () => {
  it("hands the prefix's requests to the service that owns them, method, query, body, status and headers unchanged", async () => {
    const trends = await backend();
    const url = await front(trends.url);

    const got = await fetch(`${url}/v1/sales/summary?businessDay=2026-11-23`, { headers: VIEWER });
    expect(got.status).toBe(200);
    expect(got.headers.get('x-owner')).toBe('trends');
    expect(await got.json()).toEqual({ path: '/v1/sales/summary', query: { businessDay: '2026-11-23' } });

    const posted = await fetch(`${url}/v1/sales/notes`, { method: 'POST', headers: { 'content-type': 'application/json', ...VIEWER }, body: JSON.stringify({ a: [1, 2] }) });
    expect(posted.status).toBe(201);
    expect(trends.seen.at(-1)).toMatchObject({ method: 'POST', url: '/v1/sales/notes', body: { a: [1, 2] }, forwardedFor: '127.0.0.1' });
    // The service behind hears the id the front named the request with (its own, here: the caller sent none).
    expect(trends.seen.at(-1)!.requestId).toBe(posted.headers.get('x-request-id'));
    expect(posted.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const missing = await fetch(`${url}/v1/sales/missing`, { headers: VIEWER });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');

    // The front's own routes stay its own; a path that only begins with the prefix is not the prefix's.
    expect(await (await fetch(`${url}/v1/own`)).json()).toEqual({ own: true });
    const near = await fetch(`${url}/v1/salesroom`);
    expect(near.status).toBe(404);
    expect(trends.seen.map((s) => s.url)).toEqual(['/v1/sales/summary?businessDay=2026-11-23', '/v1/sales/notes', '/v1/sales/missing']);
    // Counted under the prefix, not one label per path.
    const metrics = await (await fetch(`${url}/metrics`, { headers: VIEWER })).text();
    expect(metrics).toMatch(/http_requests_total\{route="\/v1\/sales\/\*",method="GET",status="200"[^}]*\} 1\n/);
    expect(metrics).toMatch(/http_requests_total\{route="\/v1\/sales\/\*",method="POST",status="201"[^}]*\} 1\n/);
  });

  it('refuses a request without credentials (401) or with a role the prefix does not allow (403) before anything reaches the service', async () => {
    const trends = await backend();
    const url = await front(trends.url);
    expect((await fetch(`${url}/v1/sales/summary`)).status).toBe(401);
    expect((await fetch(`${url}/v1/sales/summary`, { headers: { authorization: 'Bearer token-terminal' } })).status).toBe(403);
    expect((await fetch(`${url}/v1/sales/summary`, { headers: { authorization: 'Bearer token-store-manager' } })).status).toBe(200);
    expect(trends.seen.map((s) => s.url)).toEqual(['/v1/sales/summary']);
  });

  it('answers 503 UPSTREAM_UNAVAILABLE with Retry-After when the service is down or too slow, and keeps serving', async () => {
    const trends = await backend();
    const url = await front(trends.url, 300);

    const slow = await fetch(`${url}/v1/sales/slow`, { headers: VIEWER });
    expect(slow.status).toBe(503);
    expect(slow.headers.get('retry-after')).toBe('1');
    expect(await slow.json()).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 503, detail: expect.stringContaining('the trends service did not answer within 300 ms') });

    expect((await fetch(`${url}/v1/sales/summary`, { headers: VIEWER })).status).toBe(200);
    await trends.close();
    const down = await fetch(`${url}/v1/sales/summary`, { headers: VIEWER });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', instance: '/v1/sales/summary', detail: expect.stringContaining('does not answer') });
    expect((await fetch(`${url}/v1/own`)).status).toBe(200);
  });
});
