import { request } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { kafkaServiceEnv, testDatabase, testEnv, testKafka, testLogger, waitFor } from '@tillstream/testing';
import { hqEnv } from '../env.ts';
import { startHq } from '../service.ts';

const ADMIN_TOKEN = 'hq-admin-token-for-tests-0123456789';

async function testHq() {
  const db = await testDatabase({ target: 'hq' });
  const { prefix } = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
  const hq = await startHq(
    hqEnv.parse({ ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: prefix, DATABASE_URL: db.url, PORT: '0', HQ_ADMIN_TOKEN: ADMIN_TOKEN }),
    { logger: testLogger('hq') },
  );
  onTestFinished(() => hq.stop());
  await waitFor(async () => (await fetch(`${hq.url}/readyz`)).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
  return hq;
}

/**
 * Regression: POST /v1/catalog read and parsed its body (up to 32 MB) before
 * it looked at the token, so an anonymous caller got a 400 for bad JSON (its
 * body was parsed) and made HQ read 32 MB for nothing; a token with non-ASCII
 * characters made timingSafeEqual throw (500).
 */
describe('POST /v1/catalog', () => {
  it('checks the admin token before it reads the body', async () => {
    const hq = await testHq();
    const post = (authorization: string | undefined, body: string) =>
      fetch(`${hq.url}/v1/catalog`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body });
    // Malformed JSON: 401, not 400, so the body was never parsed.
    for (const authorization of [undefined, 'Bearer wrong-token', 'Bearer tökén-ünïcödé', `Bearer ${ADMIN_TOKEN}x`]) {
      const res = await post(authorization, '{"items": [');
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('UNAUTHORIZED');
    }
    // The admin token gets past the check to the parser (400 for the same body).
    expect((await post(`Bearer ${ADMIN_TOKEN}`, '{"items": [')).status).toBe(400);

    // A 30 MB body declared and never sent: answered 401 from the headers alone.
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${hq.url}/v1/catalog`);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(30 * 1024 * 1024) } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(401);
  });
});
