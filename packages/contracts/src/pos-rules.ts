import type { PosTransaction } from './pos-transaction.ts';

type PosLine = PosTransaction['lines'][number];

/**
 * The booking rules of a POS transaction, one home for every consumer that
 * counts them (inventory's stock ledger, trends' sales windows): which copy
 * of a transaction counts, which transactions and lines count, and which
 * post-voids are held until their original is known. Pure: the consumers
 * keep their own tables, these decide what goes into them.
 */

/** A POS transaction as consumed, with where it was read (stored with what it booked). */
export interface PosRecord {
  tx: PosTransaction;
  partition: number;
  offset: string;
}

/**
 * The first copy of each transaction in a batch, in batch order: a retried
 * copy (same transactionId) changes nothing, even inside one batch.
 */
export function firstCopies<R extends { tx: Pick<PosTransaction, 'transactionId'> }>(records: readonly R[]): R[] {
  const first = new Map<string, R>();
  for (const record of records) if (!first.has(record.tx.transactionId)) first.set(record.tx.transactionId, record);
  return [...first.values()];
}

/** Whether a transaction moves stock and sales: a SALE or RETURN outside training mode (never NO_SALE, never a POST_VOID itself). */
export function countsForSales(tx: Pick<PosTransaction, 'type' | 'trainingMode'>): boolean {
  return !tx.trainingMode && (tx.type === 'SALE' || tx.type === 'RETURN');
}

/** The lines of a transaction that count: those not voided inside it, and none of a transaction that does not count. */
export function countingLines(tx: Pick<PosTransaction, 'type' | 'trainingMode' | 'lines'>): PosLine[] {
  return countsForSales(tx) ? tx.lines.filter((line) => !line.voided) : [];
}

/** The sign of a counting transaction's figures as sales: a return's are negative (its stock movements are the opposite). */
export function salesSign(tx: Pick<PosTransaction, 'type'>): 1 | -1 {
  return tx.type === 'RETURN' ? -1 : 1;
}

/** A post-void waiting for its original: applied once the original is known, whichever arrives first. */
export interface HeldVoid {
  originalTransactionId: string;
  voidTransactionId: string;
  occurredAt: string;
}

/**
 * The post-voids among transactions booked for the first time (training
 * ones change nothing). Each is held until its original is known; the first
 * void of an original wins, a second one changes nothing.
 */
export function postVoids(txs: readonly PosTransaction[]): HeldVoid[] {
  return txs.flatMap((tx) =>
    tx.type === 'POST_VOID' && !tx.trainingMode && tx.original
      ? [{ originalTransactionId: tx.original.transactionId, voidTransactionId: tx.transactionId, occurredAt: tx.occurredAt }]
      : [],
  );
}
