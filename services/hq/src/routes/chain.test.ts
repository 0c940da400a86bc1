import { request } from 'node:https';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HqReadsV1 } from '@tillstream/contracts';
import { issueStoreToken } from '@tillstream/db';
import { bearer, kafkaServiceEnv, testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testStoreFetch, testTokens, waitFor } from '@tillstream/testing';
import { hqEnv } from '../env.ts';
import { startHq } from '../service.ts';

async function testHq(overrides: Record<string, string> = {}) {
  const db = await testDatabase({ target: 'hq' });
  const { prefix } = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
  const hq = await startHq(
    hqEnv.parse({ ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: prefix, DATABASE_URL: db.urlFor('hq'), PORT: '0', ...testHqTlsEnv(), ...overrides }),
    { logger: testLogger('hq') },
  );
  onTestFinished(() => hq.stop());
  const tokens = await testTokens(db.pool, 'hq');
  await waitFor(async () => (await fetch(`${hq.url}/readyz`, { headers: bearer(tokens['hq-viewer']) })).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
  return { hq, db, tokens };
}

/** A declared body that is never sent: the status HQ answers from the headers alone. */
function declaredOnly(url: string, headers: Record<string, string>, length: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(length), ...headers } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

/**
 * Regression: POST /v1/catalog read and parsed its body (up to 32 MB) before
 * it looked at the token, so an anonymous caller got a 400 for bad JSON (its
 * body was parsed) and made HQ read 32 MB for nothing; a token with non-ASCII
 * characters made timingSafeEqual throw (500).
 */
describe('POST /v1/catalog', () => {
  it("checks an HQ admin's token before it reads the body, and then reads at most its small limit", async () => {
    const { hq, tokens } = await testHq({ CATALOG_BODY_LIMIT_BYTES: '65536' });
    const post = (authorization: string | undefined, body: string) =>
      fetch(`${hq.url}/v1/catalog`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body });
    // Malformed JSON: 401, not 400, so the body was never parsed.
    for (const authorization of [undefined, 'Bearer wrong-token', 'Bearer tökén-ünïcödé', `Bearer ${tokens['hq-admin']}x`]) {
      const res = await post(authorization, '{"items": [');
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('UNAUTHORIZED');
    }
    // An HQ viewer is known but may not publish: 403, body still unread.
    const viewer = await post(`Bearer ${tokens['hq-viewer']}`, '{"items": [');
    expect(viewer.status).toBe(403);
    expect(((await viewer.json()) as { code: string }).code).toBe('FORBIDDEN');
    // The admin's token gets past the check to the parser (400 for the same body).
    expect((await post(`Bearer ${tokens['hq-admin']}`, '{"items": [')).status).toBe(400);

    // A 30 MB body declared and never sent: 401 from the headers alone; for the admin, 413 from the headers alone.
    expect(await declaredOnly(`${hq.url}/v1/catalog`, {}, 30 * 1024 * 1024)).toBe(401);
    expect(await declaredOnly(`${hq.url}/v1/catalog`, bearer(tokens['hq-admin']), 30 * 1024 * 1024)).toBe(413);
  });
});

describe('HQ roles', () => {
  it('chain views answer HQ viewers and admins; a store token, a wrong token or none are refused; a store uploads only as itself', async () => {
    const { hq, db, tokens } = await testHq();
    const store = await issueStoreToken(db.pool, 'S001');
    const get = (path: string, token?: string) => fetch(`${hq.url}${path}`, { headers: token ? bearer(token) : {} });
    for (const path of ['/v1/sales/stores', '/v1/stock/BREAD-1', '/v1/stores/health', '/v1/reconciliation', '/v1/quarantine', '/v1/dashboard', '/readyz', '/metrics']) {
      expect((await get(path)).status, path).toBe(401);
      expect((await get(path, 'tt_0000000000000000000000000000000000000000000')).status, path).toBe(401);
      expect((await get(path, store)).status, path).toBe(403);
      expect((await get(path, tokens['hq-viewer'])).status, path).toBe(200);
      expect((await get(path, tokens['hq-admin'])).status, path).toBe(200);
    }
    // Store routes are mutual TLS first: without S001's client certificate even its token gets 401.
    expect((await get('/v1/stores/S001/limits', store)).status).toBe(401);
    const asS001 = await testStoreFetch('S001');
    const upload = (path: string, token: string) => asS001(`${hq.url}${path}`, { headers: bearer(token) });
    expect((await upload('/v1/stores/S001/limits', store)).status).toBe(200);
    expect((await upload('/v1/stores/S002/limits', store)).status).toBe(403);
    expect((await upload('/v1/stores/S001/limits', tokens['hq-admin'])).status).toBe(403);
    // What HQ's views read (stores upload only those windows): to a store, as itself only.
    const reads = await upload('/v1/stores/S001/reads', store);
    expect(reads.status).toBe(200);
    expect(HqReadsV1.parse(await reads.json())).toEqual({ granularities: ['day'], dimensions: ['store', 'sku', 'category'] });
    expect((await upload('/v1/stores/S002/reads', store)).status).toBe(403);
    expect((await get('/v1/stores/S001/reads', store)).status).toBe(401);
    expect((await get('/healthz')).status).toBe(200);
  });
});
