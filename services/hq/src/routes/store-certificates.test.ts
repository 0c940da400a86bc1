import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createCa } from '@tillstream/certs';
import { issueStoreToken, revokeStoreCertificates } from '@tillstream/db';
import { testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testStoreCertificate, testTlsFiles, waitFor } from '@tillstream/testing';
import { hqEnv } from '../env.ts';
import { startHq } from '../service.ts';

interface ClientCert {
  cert: string;
  key: string;
}

/** GET with an optional client certificate (a fresh connection each time: the certificate is sent in the handshake). */
function get(url: string, token: string, client?: ClientCert): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { authorization: `Bearer ${token}` }, ...(client ?? {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, code: (text.startsWith('{') ? (JSON.parse(text) as { code?: string }) : {}).code });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function testHq(overrides: Record<string, string> = {}) {
  const db = await testDatabase({ target: 'hq' });
  const { prefix } = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
  const hq = await startHq(
    hqEnv.parse({ ...testHqTlsEnv(), HQ_KAFKA_BROKERS: testEnv.HQ_KAFKA_BROKERS.join(','), HQ_TOPIC_PREFIX: prefix, DATABASE_URL: db.urlFor('hq'), PORT: '0', ...overrides }),
    { logger: testLogger('hq') },
  );
  onTestFinished(() => hq.stop());
  return { hq, db };
}

describe('store routes over mutual TLS', () => {
  it("answer a store's own certificate and token; refuse the token alone, another store's certificate, an expired or a foreign one", async () => {
    const { hq, db } = await testHq();
    const token = await issueStoreToken(db.pool, 'S001');
    const limits = `${hq.url}/v1/stores/S001/limits`;
    expect(hq.url).toMatch(/^https:\/\//);

    expect(await get(limits, token, await testStoreCertificate('S001'))).toMatchObject({ status: 200 });
    // A stolen bearer token alone uploads nothing.
    expect(await get(limits, token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    // S002's certificate with S001's token, for S001: 403.
    expect(await get(limits, token, await testStoreCertificate('S002'))).toEqual({ status: 403, code: 'FORBIDDEN' });
    // A client certificate (not a store's) with the right CN: 403.
    expect(await get(limits, token, await testStoreCertificate('S001', { organizationalUnit: 'service' }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Expired three days ago.
    const expired = await testStoreCertificate('S001', { validDays: 1, now: new Date(Date.now() - 3 * 86_400_000) });
    expect(await get(limits, token, expired)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    // Signed by a CA HQ does not know.
    const foreign = await testStoreCertificate('S001', { ca: await createCa({ commonName: 'not the chain CA' }) });
    expect(await get(limits, token, foreign)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    // The certificate is checked before the token: a right certificate with a wrong token is still 401.
    expect(await get(limits, 'not-a-token', await testStoreCertificate('S001'))).toEqual({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('rotates without downtime (old and new certificate both work) and honours a revocation within STORE_TOKEN_CACHE_MS', async () => {
    const { hq, db } = await testHq({ STORE_TOKEN_CACHE_MS: '200' });
    const token = await issueStoreToken(db.pool, 'S001');
    const limits = `${hq.url}/v1/stores/S001/limits`;
    const old = await testStoreCertificate('S001');
    expect((await get(limits, token, old)).status).toBe(200);
    // The new certificate is issued while the old one still serves: both are accepted side by side.
    const rotated = await testStoreCertificate('S001');
    expect((await get(limits, token, rotated)).status).toBe(200);
    expect((await get(limits, token, old)).status).toBe(200);
    // Once the store runs on the new one, the old is revoked; HQ refuses it within the cache bound.
    expect(await revokeStoreCertificates(db.pool, { storeId: 'S001', serial: old.serial })).toBe(1);
    await waitFor(async () => (await get(limits, token, old)).status === 401, { timeoutMs: 10_000, message: 'the revoked certificate to be refused' });
    expect((await get(limits, token, rotated)).status).toBe(200);
    // Revoking it again changes nothing; revoking the store revokes only what was recorded as issued to it.
    expect(await revokeStoreCertificates(db.pool, { storeId: 'S001', serial: old.serial })).toBe(0);
  });

  it('HQ does not start without TLS and the client CA', () => {
    const base = { HQ_KAFKA_BROKERS: testEnv.HQ_KAFKA_BROKERS.join(','), PORT: '0' };
    expect(hqEnv.safeParse(base).success).toBe(false);
    expect(readFileSync(testTlsFiles().caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});
