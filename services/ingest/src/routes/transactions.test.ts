import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_TRANSACTIONS } from '@tillstream/contracts';
import { issueTerminalToken, revokeTerminal } from '@tillstream/db';
import { bearer, makeTransaction, readTopic } from '@tillstream/testing';
import { testIngest, type TestIngest } from '../testing.ts';

/**
 * Two groups of a test card number's digits, with a separator or none (up to "%C2%A0" or a JSON "\u00a0"). Not a bare "4111":
 * a random UUID (a transaction or request id in the same text) holds that one run in a few hundred.
 */
const CARD_DIGITS = /4111.{0,6}1111|1111.{0,6}1111|5555.{0,6}5555|5555.{0,6}4444/;

async function problem(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as { status: number; code: string; detail: string; errors?: Array<{ pointer: string; message: string }> };
}

/** A header value as the UTF-8 bytes a client sends (fetch takes header values as Latin-1 characters, one per byte). */
const utf8Bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

async function topicRecords(ingest: TestIngest) {
  return readTopic(ingest.kafka.kafka, ingest.topic);
}

describe('POST /v1/transactions', () => {
  it('answers 201 with a receipt once the broker has the transaction, at the offset it names', async () => {
    const ingest = await testIngest();
    const tx = makeTransaction([{ sku: 'BREAD', quantity: 2, unitPrice: 180 }]);
    const res = await ingest.post('/v1/transactions', tx);
    expect(res.status).toBe(201);
    const receipt = (await res.json()) as { transactionId: string; partition: number; offset: string; receivedAt: string };
    expect(receipt.transactionId).toBe(tx.transactionId);
    expect(Date.parse(receipt.receivedAt)).toBeGreaterThan(Date.now() - 60_000);

    const records = await topicRecords(ingest);
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect({ partition: record.partition, offset: record.offset }).toEqual({ partition: receipt.partition, offset: receipt.offset });
    expect(record.key).toBe('S001:T01');
    expect(record.envelope.data.transactionId).toBe(tx.transactionId);
    expect(record.headers['tillstream-received-at']).toBe(receipt.receivedAt);
  });

  it('replays the original receipt for the same transactionId and body, with Idempotent-Replayed, and produces nothing more', async () => {
    const ingest = await testIngest();
    const tx = makeTransaction();
    const first = await ingest.post('/v1/transactions', tx);
    // Same document with keys in another order and defaults spelled out is the same body.
    const reordered = { ...Object.fromEntries(Object.entries(tx).reverse()), trainingMode: false };
    const again = await ingest.post('/v1/transactions', reordered);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(await topicRecords(ingest)).toHaveLength(1);
  });

  it('replays the receipt after ingest restarts between the post and the replay', async () => {
    const ingest = await testIngest();
    const tx = makeTransaction();
    const receipt = await (await ingest.post('/v1/transactions', tx)).json();
    await ingest.restart();
    const again = await ingest.post('/v1/transactions', tx);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(receipt);
  });

  it('answers 422 when a transactionId comes back with a different body, and keeps the original', async () => {
    const ingest = await testIngest();
    const tx = makeTransaction([{ sku: 'A', unitPrice: 100 }]);
    await ingest.post('/v1/transactions', tx);
    const changed = makeTransaction([{ sku: 'A', unitPrice: 120 }], { transactionId: tx.transactionId, sequenceNumber: tx.sequenceNumber });
    const res = await ingest.post('/v1/transactions', changed);
    expect(res.status).toBe(422);
    expect((await problem(res)).code).toBe('IDEMPOTENCY_KEY_REUSED');
    const records = await topicRecords(ingest);
    expect(records.map((r) => r.envelope.data.totals.grand)).toEqual([100]);
  });

  // A fresh clone's run once got [201, 200, 409]: a copy arriving after the first was captured is a replay (200), not
  // a conflict. Which copy sees which is a schedule; the contract is one capture, and every other copy told the truth.
  it('captures concurrent copies of one transaction once: one 201, every other copy a replay (200) or in flight (409)', async () => {
    const ingest = await testIngest({ GROUP_COMMIT_LINGER_MS: '20' });
    const tx = makeTransaction();
    const responses = await Promise.all([1, 2, 3, 4, 5].map(() => ingest.post('/v1/transactions', tx)));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    const receipt = (await responses.find((r) => r.status === 201)!.json()) as Record<string, unknown>;
    for (const res of responses.filter((r) => r.status !== 201)) {
      expect([200, 409]).toContain(res.status);
      if (res.status === 409) {
        expect((await problem(res)).code).toBe('IDEMPOTENCY_IN_FLIGHT');
        expect(res.headers.get('retry-after')).toBe('1');
      } else {
        expect(res.headers.get('idempotent-replayed')).toBe('true');
        expect(await res.json()).toEqual(receipt);
      }
    }
    expect(await topicRecords(ingest)).toHaveLength(1);
  });

  it('answers 401 without a token, with an unknown token and with a revoked token', async () => {
    const ingest = await testIngest();
    const tx = makeTransaction();
    const missing = await ingest.post('/v1/transactions', tx, { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect((await problem(missing)).code).toBe('UNAUTHORIZED');
    expect((await ingest.post('/v1/transactions', tx, { token: `tt_${'x'.repeat(43)}` })).status).toBe(401);
    await revokeTerminal(ingest.db.pool, { storeId: 'S001', terminalId: 'T01' });
    expect((await ingest.post('/v1/transactions', tx)).status).toBe(401);
  });

  it("answers 403 for another terminal's transaction and for another store's token", async () => {
    const ingest = await testIngest();
    const other = await ingest.post('/v1/transactions', makeTransaction([{ sku: 'A' }], { terminalId: 'T02' }));
    expect(other.status).toBe(403);
    expect((await problem(other)).detail).toMatch(/T01 may not post for terminal T02/);
    const foreign = await issueTerminalToken(ingest.db.pool, { storeId: 'S002', terminalId: 'T01' });
    const res = await ingest.post('/v1/transactions', makeTransaction([{ sku: 'A' }], { storeId: 'S002' }), { token: foreign });
    expect(res.status).toBe(403);
    expect(await topicRecords(ingest)).toHaveLength(0);
  });

  it('answers 415 for another content type, 413 for an oversized body, 400 for malformed JSON', async () => {
    const ingest = await testIngest({ BODY_LIMIT_BYTES: '4096' });
    const wrongType = await ingest.post('/v1/transactions', makeTransaction(), { contentType: 'text/plain' });
    expect(wrongType.status).toBe(415);
    expect((await problem(wrongType)).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const large = await ingest.post('/v1/transactions', null, { raw: JSON.stringify({ pad: 'x'.repeat(5000) }) });
    expect(large.status).toBe(413);
    expect((await problem(large)).code).toBe('PAYLOAD_TOO_LARGE');
    const malformed = await ingest.post('/v1/transactions', null, { raw: '{"transactionId": ' });
    expect(malformed.status).toBe(400);
    expect((await problem(malformed)).code).toBe('MALFORMED_JSON');
  });

  it('answers 400 for nesting deeper than 32 and for __proto__, constructor or prototype keys', async () => {
    const ingest = await testIngest();
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const res = await ingest.post('/v1/transactions', deep);
    expect(res.status).toBe(400);
    expect((await problem(res)).code).toBe('BODY_TOO_DEEP');
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const raw = JSON.stringify(makeTransaction()).replace('"lines":[{', `"lines":[{"${key}":{"polluted":true},`);
      const r = await ingest.post('/v1/transactions', null, { raw });
      expect(r.status).toBe(400);
      const body = await problem(r);
      expect(body.code).toBe('FORBIDDEN_KEY');
      expect(body.errors?.[0]?.pointer).toBe('/lines/0');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers 422 to a card number in any field, counts it, and never logs, stores or produces it', async () => {
    const ingest = await testIngest();
    const card = '4111 1111 1111 1111';
    const tx = makeTransaction([{ sku: 'A' }]);
    const res = await ingest.post('/v1/transactions', { ...tx, lines: [{ ...tx.lines![0]!, description: `paid with ${card}` }] });
    expect(res.status).toBe(422);
    const body = await problem(res);
    expect(body.code).toBe('CARD_NUMBER_DETECTED');
    expect(body.errors?.[0]?.pointer).toBe('/lines/0/description');
    expect(JSON.stringify(body)).not.toMatch(CARD_DIGITS);
    const metrics = await (await fetch(`${ingest.url}/metrics`, { headers: bearer(ingest.tokens['store-viewer']) })).text();
    expect(metrics).toMatch(/ingest_card_numbers_rejected_total\{service="ingest"\} 1/);
    expect(ingest.logs.join('')).not.toMatch(CARD_DIGITS);
    const { rows } = await ingest.db.pool.query('SELECT count(*)::int AS n FROM ingest_transactions');
    expect(rows[0].n).toBe(0);
    expect(await topicRecords(ingest)).toHaveLength(0);
    // A GTIN-13 that happens to pass Luhn is a barcode, not a card.
    expect((await ingest.post('/v1/transactions', makeTransaction([{ sku: 'A', gtin: '4006381334013' }]))).status).toBe(201);
  });

  it('answers 422 to a card number in the path, the query or a header, before authentication, without echoing it', async () => {
    const ingest = await testIngest();
    const tx = makeTransaction();
    const send = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${ingest.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(tx) });
    const cases: Array<[Response, string]> = [
      [await send('/v1/transactions/4111%C2%A01111%C2%A01111%C2%A01111'), '/path'],
      [await send('/v1/transactions?note=4111.1111.1111.1111', { authorization: `Bearer ${ingest.token}` }), '/query'],
      [await send('/v1/transactions', { authorization: `Bearer ${ingest.token}`, 'x-note': utf8Bytes('\u0664\u0661\u0661\u0661 1111\u00a01111 1111') }), '/headers/x-note'],
    ];
    for (const [res, where] of cases) {
      expect(res.status).toBe(422);
      const text = await res.text();
      expect(text).not.toMatch(CARD_DIGITS);
      const body = JSON.parse(text) as { code: string; instance?: string; errors?: Array<{ pointer: string }> };
      expect(body.code).toBe('CARD_NUMBER_DETECTED');
      expect(body.instance).toBeUndefined();
      expect(body.errors?.[0]?.pointer).toBe(where);
    }
    expect(await topicRecords(ingest)).toHaveLength(0);
    expect(ingest.logs.join('')).not.toMatch(CARD_DIGITS);
  });

  it('answers 400 with field pointers for a schema violation and 422 for a document that does not balance', async () => {
    const ingest = await testIngest();
    const shape = await ingest.post('/v1/transactions', { ...makeTransaction(), sequenceNumber: 'seven' });
    expect(shape.status).toBe(400);
    const shapeBody = await problem(shape);
    expect(shapeBody.code).toBe('VALIDATION_FAILED');
    expect(shapeBody.errors?.map((e) => e.pointer)).toContain('/sequenceNumber');

    const tx = makeTransaction([{ sku: 'A', unitPrice: 100 }]);
    const unbalanced = await ingest.post('/v1/transactions', { ...tx, totals: { ...tx.totals, gross: 150 } });
    expect(unbalanced.status).toBe(422);
    const body = await problem(unbalanced);
    expect(body.code).toBe('UNPROCESSABLE');
    expect(body.errors?.map((e) => e.pointer)).toContain('/totals/gross');
  });

  it('answers 422 for a terminal clock far ahead and for a transaction older than the idempotency window', async () => {
    const ingest = await testIngest();
    const future = new Date(Date.now() + 3 * 3600_000).toISOString();
    expect((await ingest.post('/v1/transactions', makeTransaction([{ sku: 'A' }], { occurredAt: future, businessDay: future.slice(0, 10) }))).status).toBe(422);
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const res = await ingest.post('/v1/transactions', makeTransaction([{ sku: 'A' }], { occurredAt: old, businessDay: old.slice(0, 10) }));
    expect(res.status).toBe(422);
    expect((await problem(res)).errors?.[0]?.pointer).toBe('/occurredAt');
  });

  it("answers 429 with Retry-After when a terminal exceeds its rate", async () => {
    // A clock that never moves: the bucket cannot refill between the requests, however slow the machine
    // (with the real clock, a third request a second late was a 201).
    const ingest = await testIngest({ TERMINAL_RATE_PER_SECOND: '1', TERMINAL_RATE_BURST: '2' }, { clock: () => 0 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await ingest.post('/v1/transactions', makeTransaction())).status);
    expect(statuses).toEqual([201, 201, 429]);
    const limited = await ingest.post('/v1/transactions', makeTransaction());
    expect(limited.headers.get('retry-after')).toBe('1');
    expect((await problem(limited)).code).toBe('RATE_LIMITED');
  });
});

describe('POST /v1/transactions/batch', () => {
  it('answers each item with its own status and receipt, idempotently', async () => {
    const ingest = await testIngest();
    const good = [1, 2, 3].map(() => makeTransaction());
    const dup = good[0]!;
    const bad = { ...makeTransaction(), totals: { gross: 1, discount: 0, tax: 0, net: 1, grand: 1 } };
    const res = await ingest.post('/v1/transactions/batch', { transactions: [...good, bad] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: Array<{ index: number; status: number; transactionId?: string; receipt?: { offset: string }; problem?: { code: string; errors?: Array<{ pointer: string }> } }>; summary: unknown };
    expect(body.results.map((r) => r.status)).toEqual([201, 201, 201, 422]);
    expect(body.results[3]!.problem?.errors?.[0]?.pointer).toMatch(/^\/transactions\/3\/totals/);
    expect(body.summary).toEqual({ created: 3, replayed: 0, failed: 1 });

    const again = (await (await ingest.post('/v1/transactions/batch', { transactions: [dup, makeTransaction()] })).json()) as typeof body;
    expect(again.results.map((r) => r.status)).toEqual([200, 201]);
    expect(again.results[0]!.receipt).toEqual(body.results[0]!.receipt);
    expect(await topicRecords(ingest)).toHaveLength(4);
  });

  it('refuses an item carrying a card number alone: the others are produced with their receipts, its digits are never produced, stored, logged or echoed', async () => {
    const ingest = await testIngest();
    const [first, second, third] = [1, 2, 3].map(() => makeTransaction([{ sku: 'A' }]));
    const withCard = { ...second!, lines: [{ ...second!.lines![0]!, description: 'paid 4111\u00a01111\u00a01111\u00a01111' }] };
    const cardAsId = { ...makeTransaction(), transactionId: '5555.5555.5555.4444' };
    const res = await ingest.post('/v1/transactions/batch', { transactions: [first, withCard, third, cardAsId] });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(CARD_DIGITS);
    const body = JSON.parse(text) as { results: Array<{ index: number; status: number; transactionId?: string; receipt?: { partition: number; offset: string }; problem?: { code: string; errors?: Array<{ pointer: string }> } }>; summary: unknown };
    expect(body.results.map((r) => r.status)).toEqual([201, 422, 201, 422]);
    expect(body.results[1]!.problem?.code).toBe('CARD_NUMBER_DETECTED');
    expect(body.results[1]!.problem?.errors?.[0]?.pointer).toBe('/transactions/1/lines/0/description');
    expect(body.results[1]!.transactionId).toBe(second!.transactionId);
    expect(body.results[3]!.problem?.code).toBe('CARD_NUMBER_DETECTED');
    expect(body.results[3]!.transactionId).toBeUndefined(); // the id was where the card number was
    expect(body.summary).toEqual({ created: 2, replayed: 0, failed: 2 });

    const records = await topicRecords(ingest);
    expect(records.map((r) => r.envelope.data.transactionId).sort()).toEqual([first!.transactionId, third!.transactionId].sort());
    for (const i of [0, 2]) {
      const record = records.find((r) => r.envelope.data.transactionId === body.results[i]!.transactionId)!;
      expect({ partition: record.partition, offset: record.offset }).toEqual({ partition: body.results[i]!.receipt!.partition, offset: body.results[i]!.receipt!.offset });
    }
    expect(JSON.stringify(records)).not.toMatch(CARD_DIGITS);
    const { rows } = await ingest.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ingest_transactions');
    expect(rows[0]!.n).toBe(2);
    expect(ingest.logs.join('')).not.toMatch(CARD_DIGITS);
    const metrics = await (await fetch(`${ingest.url}/metrics`, { headers: bearer(ingest.tokens['store-viewer']) })).text();
    expect(metrics).toMatch(/ingest_card_numbers_rejected_total\{service="ingest"\} 2/);

    // The till resends its backlog: the refused item is refused again, the others replay.
    const again = (await (await ingest.post('/v1/transactions/batch', { transactions: [first, withCard, third] })).json()) as typeof body;
    expect(again.results.map((r) => r.status)).toEqual([200, 422, 200]);
  });

  it('refuses a card number in the batch envelope whole, without echoing it', async () => {
    const ingest = await testIngest();
    const res = await ingest.post('/v1/transactions/batch', { transactions: [makeTransaction()], '4111_1111_1111_1111': true });
    expect(res.status).toBe(422);
    const text = await res.text();
    expect(text).not.toMatch(CARD_DIGITS);
    expect(JSON.parse(text).code).toBe('CARD_NUMBER_DETECTED');
    expect(await topicRecords(ingest)).toHaveLength(0);
  });

  it(`answers 413 for more than ${MAX_BATCH_TRANSACTIONS} transactions and 400 for an empty batch`, async () => {
    const ingest = await testIngest();
    const many = Array.from({ length: MAX_BATCH_TRANSACTIONS + 1 }, () => ({ transactionId: randomUUID() }));
    const res = await ingest.post('/v1/transactions/batch', { transactions: many });
    expect(res.status).toBe(413);
    expect((await problem(res)).code).toBe('PAYLOAD_TOO_LARGE');
    expect((await ingest.post('/v1/transactions/batch', { transactions: [] })).status).toBe(400);
  });

  it('captures a full batch of 500 in one request', async () => {
    const ingest = await testIngest();
    const txs = Array.from({ length: MAX_BATCH_TRANSACTIONS }, () => makeTransaction());
    const body = (await (await ingest.post('/v1/transactions/batch', { transactions: txs })).json()) as { summary: { created: number } };
    expect(body.summary.created).toBe(MAX_BATCH_TRANSACTIONS);
    expect(await topicRecords(ingest)).toHaveLength(MAX_BATCH_TRANSACTIONS);
  });
});
