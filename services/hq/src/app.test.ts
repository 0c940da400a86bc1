import { describe, expect, it } from 'vitest';
import { serveTestApp, testServicePool } from '@tillstream/consumer-service/testing';
import { issueStoreToken } from '@tillstream/db';
import { TypedProducer, createKafkaClient } from '@tillstream/kafka';
import { createMetricsRegistry } from '@tillstream/observability';
import { bearer, testDatabase, testLogger, testTokens } from '@tillstream/testing';
import { createApp } from './app.ts';

describe('HQ createApp (PostgreSQL only, no broker)', () => {
  it("serves the chain views to HQ viewers and refuses a store's token on them", async () => {
    const db = await testDatabase({ target: 'hq' });
    const tokens = await testTokens(db.pool, 'hq');
    const store = await issueStoreToken(db.pool, 'S001');
    const logger = testLogger('hq');
    const url = await serveTestApp(
      createApp({
        config: { batchLimitBytes: 1_048_576, catalogLimitBytes: 65_536, tokenCacheMs: 0, offlineAfterSeconds: 300 },
        pool: testServicePool(db, 'hq'),
        // Only store uploads produce: never connected here (a client is only a description until then).
        producer: new TypedProducer({ kafka: createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'hq-test', logger }), logger, source: 'hq', topicPrefix: 'unused.' }),
        logger,
        registry: createMetricsRegistry({ service: 'hq' }),
      }),
    );
    const health = await fetch(`${url}/v1/stores/health`, { headers: bearer(tokens['hq-viewer']) });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ stores: [] });
    expect((await fetch(`${url}/v1/stores/health`, { headers: bearer(store) })).status).toBe(403);
    const ready = await fetch(`${url}/readyz`, { headers: bearer(tokens['hq-viewer']) });
    expect(ready.status).toBe(200);
  });
});
