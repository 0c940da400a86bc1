import { describe, expect, it } from 'vitest';
import { serveTestApp, testServicePool } from '@tillstream/consumer-service/testing';
import { issueTerminalToken } from '@tillstream/db';
import { createKafkaClient } from '@tillstream/kafka';
import { createMetricsRegistry } from '@tillstream/observability';
import { bearer, makeTransaction, testDatabase, testLogger, testTokens } from '@tillstream/testing';
import { createApp } from './app.ts';
import { ProducerGate } from './broker.ts';
import { Capture } from './capture.ts';
import { KnownIds } from './known-ids.ts';
import { createIngestMetrics } from './metrics.ts';

describe('ingest createApp (PostgreSQL only, no broker)', () => {
  it('refuses a sale with 503 and Retry-After until its journal has caught up with the broker, writes nothing, and says why in /readyz', async () => {
    const db = await testDatabase({ target: 'store' });
    const tokens = await testTokens(db.pool, 'store');
    const terminal = await issueTerminalToken(db.pool, { storeId: 'S001', terminalId: 'T01' });
    const pool = testServicePool(db, 'ingest');
    const logger = testLogger('ingest');
    const registry = createMetricsRegistry({ service: 'ingest' });
    const metrics = createIngestMetrics(registry);
    // A client is only a description until something connects it: this gate is never started (the broker is "away").
    const gate = new ProducerGate({ kafka: createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'ingest-test', logger }), logger, topicPrefix: 'unused.' });
    const capture = new Capture({ pool, knownIds: new KnownIds(1000), gate, logger, metrics, storeId: 'S001', produceTimeoutMs: 500, maxBatch: 100, lingerMs: 0, maxInFlight: 100 });
    const limits = { requests: { perSecond: 100, burst: 100 }, transactions: { perSecond: 100, burst: 100 }, bytes: { perSecond: 1e7, burst: 1e7 } };
    const url = await serveTestApp(
      createApp({
        config: { storeId: 'S001', bodyLimitBytes: 65_536, batchBodyLimitBytes: 1_048_576, retentionDays: 7, maxClockSkewMinutes: 60, limits, tokenCacheMs: 0 },
        pool,
        gate,
        capture,
        metrics,
        registry,
        logger,
      }),
    );

    const res = await fetch(`${url}/v1/transactions`, { method: 'POST', headers: { ...bearer(terminal), 'content-type': 'application/json' }, body: JSON.stringify(makeTransaction()) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(((await res.json()) as { code: string }).code).toBe('BROKER_UNAVAILABLE');
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ingest_transactions');
    expect(rows[0]!.n).toBe(0);

    const ready = await fetch(`${url}/readyz`, { headers: bearer(tokens['store-viewer']) });
    expect(ready.status).toBe(503);
    const checks = ((await ready.json()) as { checks: { name: string; ok: boolean }[] }).checks.map((c) => [c.name, c.ok]);
    expect(checks).toEqual([['broker', false], ['database', true], ['journal', false]]);
    expect((await fetch(`${url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${url}/v1/transactions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
  });
});
