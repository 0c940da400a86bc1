import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { countingLines, countsForSales, firstCopies, postVoids, salesSign } from './pos-rules.ts';
import { PosTransactionV1, type PosTransaction, type PosTransactionInput } from './pos-transaction.ts';

/** A valid transaction (parsed by the v1 schema) of one-euro lines, paid in cash. */
function tx(type: PosTransaction['type'], lines: Array<{ sku: string; voided?: boolean }>, overrides: Partial<PosTransactionInput> = {}): PosTransaction {
  const goods = type === 'SALE' || type === 'RETURN';
  const full = goods ? lines.map((l, i) => ({ lineNumber: i + 1, sku: l.sku, description: l.sku, category: 'c', quantity: 1, unitPrice: 100, discount: 0, taxAmount: 0, extendedAmount: 100, voided: l.voided ?? false })) : [];
  const net = full.filter((l) => !l.voided).length * 100;
  const original = type === 'RETURN' || type === 'POST_VOID' ? { original: { transactionId: randomUUID(), terminalId: 'T01' } } : {};
  return PosTransactionV1.parse({
    transactionId: randomUUID(),
    storeId: 'S001',
    terminalId: 'T01',
    sequenceNumber: 1,
    businessDay: '2026-11-29',
    occurredAt: '2026-11-29T10:00:00Z',
    type,
    operatorId: 'OP1',
    currency: 'EUR',
    lines: full,
    tenders: net > 0 ? [{ type: 'CASH', amount: net, change: 0 }] : [],
    totals: { gross: net, discount: 0, tax: 0, net, grand: net },
    ...original,
    ...overrides,
  });
}

describe('POS booking rules', () => {
  it('keeps the first copy of each transaction in batch order', () => {
    const a = tx('SALE', [{ sku: 'A' }]);
    const b = tx('SALE', [{ sku: 'B' }]);
    const records = [
      { tx: a, partition: 0, offset: '1' },
      { tx: b, partition: 0, offset: '2' },
      { tx: a, partition: 0, offset: '3' },
    ];
    expect(firstCopies(records).map((r) => r.offset)).toEqual(['1', '2']);
  });

  it('counts the unvoided lines of sales and returns, and nothing of training, NO_SALE or a post-void itself', () => {
    const sale = tx('SALE', [{ sku: 'A' }, { sku: 'B', voided: true }, { sku: 'C' }]);
    expect(countsForSales(sale)).toBe(true);
    expect(countingLines(sale).map((l) => l.sku)).toEqual(['A', 'C']);
    expect(countingLines(tx('RETURN', [{ sku: 'A' }])).map((l) => l.sku)).toEqual(['A']);
    const training = tx('SALE', [{ sku: 'A' }], { trainingMode: true });
    expect(countsForSales(training)).toBe(false);
    expect(countingLines(training)).toEqual([]);
    expect(countsForSales(tx('NO_SALE', []))).toBe(false);
    expect(countsForSales(tx('POST_VOID', []))).toBe(false);
  });

  it('signs a return negative as sales', () => {
    expect(salesSign(tx('SALE', [{ sku: 'A' }]))).toBe(1);
    expect(salesSign(tx('RETURN', [{ sku: 'A' }]))).toBe(-1);
  });

  it('holds the post-voids that count, naming their original', () => {
    const voiding = tx('POST_VOID', []);
    const trainingVoid = tx('POST_VOID', [], { trainingMode: true });
    expect(postVoids([tx('SALE', [{ sku: 'A' }]), voiding, trainingVoid])).toEqual([
      { originalTransactionId: voiding.original!.transactionId, voidTransactionId: voiding.transactionId, occurredAt: voiding.occurredAt },
    ]);
  });
});
