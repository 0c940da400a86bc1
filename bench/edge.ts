import type { Request, RequestHandler, Response } from 'express';
import { textFault } from '@tillstream/contracts';
import { hasDuplicateKey, jsonBody } from '@tillstream/http';
import { makeTransaction } from '@tillstream/testing';
import { table } from './harness.ts';

/** Milliseconds per call of `fn`, the median of 5 rounds of `times` calls after a warm-up round. */
function perCall(times: number, fn: () => void): number {
  const rounds: number[] = [];
  for (let round = 0; round < 6; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < times; i++) fn();
    if (round > 0) rounds.push(Number(process.hrtime.bigint() - start) / 1e6 / times);
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

/** The text rules alone: textFault on every key and string of a parsed body. */
function checkText(value: unknown): void {
  if (typeof value === 'string') textFault(value);
  else if (Array.isArray(value)) for (const v of value) checkText(v);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      textFault(k);
      checkText(v);
    }
  }
}

/**
 * What the JSON edge costs per body, in process (no HTTP): JSON.parse alone
 * (the baseline: what any JSON API pays), the duplicate-key pass alone, and
 * jsonBody's whole parse stage (JSON.parse, depth, forbidden keys, the text
 * rules, card numbers, duplicate keys), for one transaction, a 500-item batch
 * and an 8 MB batch; the text rules and the duplicate-key pass alone, to
 * show what they add. The event loop is blocked for the whole parse stage.
 */
export async function edgeBench(): Promise<string> {
  const tx = () => makeTransaction([{ sku: 'BREAD', quantity: 2, unitPrice: 180 }, { sku: 'COFFEE', unitPrice: 250, discount: 20 }, { sku: 'BAG', unitPrice: 10 }]);
  const bodies: Array<[string, string, number]> = [
    ['one transaction', JSON.stringify(tx()), 2000],
    ['batch of 500', JSON.stringify({ transactions: Array.from({ length: 500 }, tx) }), 20],
  ];
  const big: unknown[] = [];
  while (JSON.stringify({ transactions: big }).length < 8 * 1024 * 1024) for (let i = 0; i < 1000; i++) big.push(tx());
  bodies.push(['8 MB batch', JSON.stringify({ transactions: big }), 3]);
  const parse = jsonBody({ limitBytes: 64 * 1024 * 1024 })[2] as RequestHandler;
  const rows = bodies.map(([what, text, times]) => {
    const buffer = Buffer.from(text);
    const baseline = perCall(times, () => void JSON.parse(text));
    const duplicates = perCall(times, () => hasDuplicateKey(text));
    const parsed = JSON.parse(text) as unknown;
    const rules = perCall(times, () => checkText(parsed));
    const stage = perCall(times, () => {
      const req = { body: buffer } as Request;
      let failed: unknown;
      parse(req, {} as Response, (err?: unknown) => (failed = err));
      if (failed) throw failed as Error;
    });
    return { body: what, bytes: buffer.length, 'JSON.parse ms': baseline, 'text rules ms': rules, 'duplicate keys ms': duplicates, 'jsonBody parse stage ms': stage, 'x JSON.parse': stage / baseline };
  });
  return table(rows);
}
