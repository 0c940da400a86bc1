import { describe, expect, it } from 'vitest';
import { bearer, makeTransaction } from '@tillstream/testing';
import { testIngest } from '../testing.ts';

describe('operations endpoints', () => {
  it('report health, readiness with each dependency, and metrics by route, status and batch size', async () => {
    const ingest = await testIngest();
    expect(await (await fetch(`${ingest.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${ingest.url}/readyz`, { headers: bearer(ingest.tokens['store-viewer']) });
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Array<{ name: string; ok: boolean }> }).checks.map((c) => [c.name, c.ok])).toEqual([['broker', true], ['database', true], ['journal', true]]);

    await ingest.post('/v1/transactions', makeTransaction());
    await ingest.post('/v1/transactions', makeTransaction(), { contentType: 'text/plain' });
    await ingest.post('/v1/transactions/batch', { transactions: [makeTransaction()] }, { token: null });
    const metrics = await (await fetch(`${ingest.url}/metrics`, { headers: bearer(ingest.tokens['store-viewer']) })).text();
    expect(metrics).toMatch(/http_requests_total\{route="\/v1\/transactions",method="POST",status="201",service="ingest"\} 1/);
    expect(metrics).toMatch(/http_requests_total\{route="\/v1\/transactions",method="POST",status="415",service="ingest"\} 1/);
    expect(metrics).toMatch(/http_requests_total\{route="\/v1\/transactions\/batch",method="POST",status="401",service="ingest"\} 1/);
    // Both POSTs observed (the +Inf bucket): how long they took is the machine's, not the contract's.
    expect(metrics).toMatch(/http_request_duration_seconds_bucket\{le="\+Inf",service="ingest",route="\/v1\/transactions",method="POST"\} 2/);
    expect(metrics).toMatch(/ingest_produce_batch_size_count\{service="ingest"\} 1/);
    expect(metrics).toMatch(/ingest_in_flight\{service="ingest"\} 0/);
    expect(metrics).toMatch(/ingest_transactions_total\{outcome="created",service="ingest"\} 1/);
  });

  it('serve an OpenAPI document generated from the contract schemas', async () => {
    const ingest = await testIngest();
    const doc = (await (await fetch(`${ingest.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, { maxItems?: number }>; required?: string[] }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/transactions', '/v1/transactions/batch', '/readyz']));
    expect(Object.keys(doc.paths['/v1/transactions']!.post!.responses)).toEqual(expect.arrayContaining(['200', '201', '401', '409', '422', '503']));
    const tx = doc.components.schemas.PosTransactionV1!;
    expect(tx.required).toEqual(expect.arrayContaining(['transactionId', 'storeId', 'terminalId', 'totals']));
    expect(tx.properties?.lines?.maxItems).toBe(500);
  });

  // It asserted the 503 came within 5 s of the clock: a schedule. The contract is that the terminal is refused at
  // once, by a gate that knows the broker is away, never after a send that waits on it: no batch was produced.
  it('answer 503 with Retry-After without waiting on the broker when it is unreachable, and report not ready', async () => {
    const ingest = await testIngest({ KAFKA_BROKERS: '127.0.0.1:1', PRODUCE_TIMEOUT_MS: '500' });
    const res = await ingest.post('/v1/transactions', makeTransaction());
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(((await res.json()) as { code: string }).code).toBe('BROKER_UNAVAILABLE');
    const ready = await fetch(`${ingest.url}/readyz`, { headers: bearer(ingest.tokens['store-viewer']) });
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Array<{ name: string; ok: boolean }> };
    expect(body.checks.find((c) => c.name === 'broker')?.ok).toBe(false);
    const metrics = await (await fetch(`${ingest.url}/metrics`, { headers: bearer(ingest.tokens['store-viewer']) })).text();
    expect(metrics).toMatch(/ingest_produce_batch_size_count\{service="ingest"\} 0\n/);
    const { rows } = await ingest.db.pool.query('SELECT count(*)::int AS n FROM ingest_transactions');
    expect(rows[0].n).toBe(0);
  });

  it('answer 404 as a problem for an unknown route', async () => {
    const ingest = await testIngest();
    const res = await fetch(`${ingest.url}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });
});
