import { randomUUID } from 'node:crypto';
import { computeTotals, extendPrice, type PosTransactionInput, type TransactionLine } from '@tillstream/contracts';

export interface LineSpec {
  sku: string;
  quantity?: number;
  unitPrice?: number;
  discount?: number;
  taxAmount?: number;
  category?: string;
  unitOfMeasure?: 'EA' | 'KG' | 'G' | 'LB' | 'L';
  voided?: boolean;
  gtin?: string;
}

let sequence = 0;

/**
 * A balanced POS transaction (contract v1) built from a few line specs:
 * extended amounts, totals and a cash tender are computed, so tests state
 * only what matters to them and override the rest.
 */
export function makeTransaction(
  lines: LineSpec[] = [{ sku: 'SKU-1' }],
  overrides: Partial<PosTransactionInput> = {},
): PosTransactionInput {
  const full = lines.map((l, i): TransactionLine => {
    const quantity = l.quantity ?? 1;
    const unitPrice = l.unitPrice ?? 250;
    const discount = l.discount ?? 0;
    return {
      lineNumber: i + 1,
      sku: l.sku,
      ...(l.gtin ? { gtin: l.gtin } : {}),
      description: `Item ${l.sku}`,
      category: l.category ?? 'general',
      quantity,
      unitOfMeasure: l.unitOfMeasure ?? 'EA',
      unitPrice,
      discount,
      taxAmount: l.taxAmount ?? 0,
      extendedAmount: extendPrice(quantity, unitPrice) - discount,
      voided: l.voided ?? false,
    };
  });
  const type = overrides.type ?? 'SALE';
  const hasGoods = type === 'SALE' || type === 'RETURN';
  const totals = computeTotals(hasGoods ? full : []);
  const occurredAt = overrides.occurredAt ?? new Date().toISOString();
  return {
    transactionId: randomUUID(),
    storeId: 'S001',
    terminalId: 'T01',
    sequenceNumber: ++sequence,
    businessDay: occurredAt.slice(0, 10),
    occurredAt,
    type,
    trainingMode: false,
    operatorId: 'OP1',
    currency: 'EUR',
    lines: hasGoods ? full : [],
    tenders: totals.grand > 0 ? [{ type: 'CASH', amount: totals.grand, change: 0 }] : [],
    totals,
    ...overrides,
  };
}
