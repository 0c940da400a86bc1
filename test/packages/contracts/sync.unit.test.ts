import { describe, expect, it } from 'vitest';
import { makeTransaction } from '@tillstream/testing';
import { SyncRecord } from '@tillstream/contracts';

describe('a transaction in a store upload', () => {
  const tx = makeTransaction([{ sku: 'BREAD', unitPrice: 180 }]);
  const record = { stream: 'transaction', key: tx.transactionId, data: tx };

  it('may carry the request id that brought it in at ingest, and HQ takes one without (a store from before it)', () => {
    expect(SyncRecord.safeParse(record).success).toBe(true);
    expect(SyncRecord.parse({ ...record, requestId: 'till-7.42_a' })).toMatchObject({ requestId: 'till-7.42_a' });
  });

  it('refuses a request id that is not a plain token, or holds a card-like digit run', () => {
    for (const requestId of ['', 'a b', 'x'.repeat(129), '4111111111111111', 42, null]) {
      expect(SyncRecord.safeParse({ ...record, requestId }).success, JSON.stringify(requestId)).toBe(false);
    }
  });
});
