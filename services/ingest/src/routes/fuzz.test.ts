import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeTransaction, readTopic } from '@tillstream/testing';
import { testIngest } from '../testing.ts';

const RUNS = 5000;

type Doc = Record<string, unknown>;
const base = () => makeTransaction([{ sku: 'A', quantity: 2, unitPrice: 150 }, { sku: 'B', unitPrice: 99, discount: 9 }]) as unknown as Doc;
const required = ['transactionId', 'storeId', 'terminalId', 'sequenceNumber', 'businessDay', 'occurredAt', 'type', 'operatorId', 'currency', 'totals'];
const numeric = ['sequenceNumber'];

/** Mutations that each make a valid transaction invalid or hostile, never valid again. */
const hostileDocument: fc.Arbitrary<string> = fc.oneof(
  // a required field missing
  fc.constantFrom(...required).map((field) => {
    const doc = base();
    delete doc[field];
    return JSON.stringify(doc);
  }),
  // a field of the wrong type
  fc.tuple(fc.constantFrom(...required), fc.oneof(fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }))).map(([field, value]) => JSON.stringify({ ...base(), [field]: value })),
  // numbers that are not positive integers
  fc.tuple(fc.constantFrom(...numeric), fc.oneof(fc.double({ noInteger: true }), fc.integer({ max: 0 }), fc.string())).map(([field, value]) => JSON.stringify({ ...base(), [field]: value })),
  // totals off by a non-zero amount
  fc.tuple(fc.constantFrom('gross', 'discount', 'tax', 'net', 'grand'), fc.integer({ min: 1, max: 1_000_000 })).map(([key, delta]) => {
    const doc = base();
    const totals = doc.totals as Record<string, number>;
    return JSON.stringify({ ...doc, totals: { ...totals, [key]: totals[key]! + delta } });
  }),
  // unknown fields anywhere
  fc.tuple(fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !(k in base())), fc.jsonValue({ maxDepth: 2 })).map(([key, value]) => JSON.stringify({ ...base(), [key]: value })),
  // prototype pollution attempts at any depth
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.constantFrom('root', 'line', 'totals')).map(([key, where]) => {
    const raw = JSON.stringify(base());
    const inject = `"${key}":{"isAdmin":true},`;
    if (where === 'root') return raw.replace('{', `{${inject}`);
    if (where === 'line') return raw.replace('"lines":[{', `"lines":[{${inject}`);
    return raw.replace('"totals":{', `"totals":{${inject}`);
  }),
  // card numbers in free-text fields, bare or grouped
  fc.tuple(fc.constantFrom('4111111111111111', '5500 0000 0000 0004', '3400-000000-00009', '6011000990139424', '4012888888881881'), fc.constantFrom('operatorId', 'description', 'token')).map(([card, where]) => {
    const doc = base();
    if (where === 'operatorId') return JSON.stringify({ ...doc, operatorId: card });
    if (where === 'description') {
      const lines = doc.lines as Doc[];
      return JSON.stringify({ ...doc, lines: [{ ...lines[0], description: `card ${card}` }, lines[1]] });
    }
    return JSON.stringify({ ...doc, tenders: [{ type: 'CARD', amount: (doc.totals as Doc).grand, card: { token: card.replace(/\D/g, ''), last4: '1111' } }] });
  }),
  // a key given twice (JSON.parse kept the last one: "quantity": -1 then 2 was read as 2)
  fc.tuple(fc.constantFrom('quantity', 'unitPrice', 'sku', 'description'), fc.jsonValue({ maxDepth: 1 })).map(([key, first]) => {
    const raw = JSON.stringify(base());
    return raw.replace('"lines":[{', `"lines":[{"${key}":${JSON.stringify(first) ?? 'null'},`);
  }),
  // a control character or a lone surrogate in free text (PostgreSQL refused it after a 201: dead letters)
  fc.tuple(fc.constantFrom('description', 'category'), fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }), fc.integer({ min: 0xd800, max: 0xdfff }))).map(([field, code]) => {
    const doc = base();
    const lines = doc.lines as Doc[];
    return JSON.stringify({ ...doc, lines: [{ ...lines[0], [field]: `Bread${String.fromCharCode(code)}` }, lines[1]] });
  }),
  // nesting past the limit
  fc.integer({ min: 33, max: 3000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  // arbitrary JSON that is not a transaction
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  // not JSON at all
  fc.string({ maxLength: 200 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
);

describe('hostile bodies (property-based)', () => {
  it(`answers ${RUNS} malformed or hostile bodies with a 4xx problem and produces nothing`, async () => {
    // Budgets out of the way: every body must reach the parser, not a 429.
    const ingest = await testIngest({
      TERMINAL_RATE_PER_SECOND: '1000000',
      TERMINAL_RATE_BURST: '1000000',
      TERMINAL_TRANSACTIONS_PER_SECOND: '1000000',
      TERMINAL_TRANSACTIONS_BURST: '1000000',
      TERMINAL_BYTES_PER_SECOND: '1000000000',
      TERMINAL_BYTES_BURST: '1000000000',
    });
    const bodies = fc.sample(hostileDocument, { numRuns: RUNS, seed: 20261122 });
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < bodies.length) {
        const raw = bodies[next++]!;
        const res = await ingest.post('/v1/transactions', null, { raw });
        const type = res.headers.get('content-type') ?? '';
        const body = (await res.json()) as { status?: number; code?: string };
        if (res.status < 400 || res.status >= 500 || !type.startsWith('application/problem+json') || body.status !== res.status || !body.code) {
          failures.push(`${res.status} ${type} for ${raw.slice(0, 300)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures).toEqual([]);
    expect(await readTopic(ingest.kafka.kafka, ingest.topic)).toHaveLength(0);
    const { rows } = await ingest.db.pool.query('SELECT count(*)::int AS n FROM ingest_transactions');
    expect(rows[0].n).toBe(0);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    // 5,000 requests over TLS: 15-25 s alone, over 60 s on the 2-core machine under a parallel suite's load.
  }, 300_000);
});
