import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import { describe, expect, it, onTestFinished } from 'vitest';
import { issueStoreToken } from '@tillstream/db';
import { bearer, kafkaServiceEnv, makeTransaction, testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testStoreCertificate, testTokens, waitFor } from '@tillstream/testing';
import { hqEnv } from './env.ts';
import { startHq } from './service.ts';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  connection: string | undefined;
  body: string;
}

/** POSTs a batch's headers and then as much body as given, never ending it unless `end`; resolves with HQ's answer. */
function upload(url: string, headers: Record<string, string>, client: { cert: string; key: string }, body: string, end: boolean): { req: ClientRequest; answer: Promise<Answer> } {
  let req!: ClientRequest;
  const answer = new Promise<Answer>((resolve, reject) => {
    req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers }, cert: client.cert, key: client.key }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], connection: res.headers.connection, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
  });
  req.write(body);
  if (end) req.end();
  return { req, answer };
}

describe('HQ upload admission', () => {
  it('answers 503 with Retry-After before reading the body once its batches in flight are at the limit, and takes batches again once they end', async () => {
    const db = await testDatabase({ target: 'hq' });
    const { prefix } = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
    const hq = await startHq(
      hqEnv.parse({
        ...testHqTlsEnv(),
        ...kafkaServiceEnv('hq'),
        HQ_TOPIC_PREFIX: prefix,
        DATABASE_URL: db.urlFor('hq'),
        PORT: '0',
        HQ_ROLES: 'api',
        ADMIT_MAX_BATCHES: '1',
        ADMIT_RETRY_AFTER_SECONDS: '3',
      }),
      { logger: testLogger('hq') },
    );
    onTestFinished(() => hq.stop());
    const viewer = bearer((await testTokens(db.pool, 'hq'))['hq-viewer']);
    await waitFor(async () => (await fetch(`${hq.url}/readyz`, { headers: viewer })).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
    const token = await issueStoreToken(db.pool, 'S001');
    const client = await testStoreCertificate('S001');
    const url = `${hq.url}/v1/stores/S001/batches`;
    const headers = (batchId: string) => ({ authorization: `Bearer ${token}`, 'idempotency-key': batchId });
    const inFlight = async () => {
      const text = await (await fetch(`${hq.url}/metrics`, { headers: viewer })).text();
      return Number(/^hq_upload_batches_in_flight(?:\{[^}]*\})? (\d+)$/m.exec(text)?.[1]);
    };

    // One batch whose body never ends: admitted, it holds the only place.
    const held = upload(url, headers('S001-1-1'), client, '{"batchId":"S001-1-1","records":[', false);
    const heldAnswer = held.answer.catch(() => undefined);
    await waitFor(async () => (await inFlight()) === 1, { message: 'the first batch to be admitted' });

    // The next: headers and an endless, unparsable body; the answer comes anyway, from the headers alone.
    const refused = upload(url, headers('S001-2-2'), client, '{"records":[{"not json', false);
    const answer = await refused.answer;
    refused.req.destroy();
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('3');
    expect(answer.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'OVERLOADED' });
    expect(await inFlight()).toBe(1);

    // The held upload goes away: the place is free again, and a whole batch is applied.
    held.req.destroy();
    await heldAnswer;
    await waitFor(async () => (await inFlight()) === 0, { message: 'the held batch to be released' });
    const tx = makeTransaction([{ sku: 'A' }], { storeId: 'S001' });
    const batch = { batchId: 'S001-3-3', records: [{ stream: 'transaction', key: tx.transactionId, data: tx }], backlog: { records: 0, oldestAt: null } };
    const taken = await upload(url, headers(batch.batchId), client, JSON.stringify(batch), true).answer;
    expect(taken.status, taken.body).toBe(201);
    const metrics = await (await fetch(`${hq.url}/metrics`, { headers: viewer })).text();
    expect(metrics).toMatch(/^hq_uploads_refused_total\{reason="batches"(?:,[^}]*)?\} 1$/m);
  });
});
