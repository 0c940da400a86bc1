import { randomUUID } from 'node:crypto';
import type { PosTransactionInput } from '@tillstream/contracts';
import { makeTransaction } from '@tillstream/simulator';

/**
 * Store traffic in the order it reaches the topic: sales of counted and
 * weighed goods, returns, post-voids (some arriving before the sale they
 * cancel, as from an offline terminal), training transactions, and retried
 * copies of transactions already sent.
 */
export function storeTraffic(count: number, random: () => number): PosTransactionInput[] {
  const skus = Array.from({ length: 12 }, (_, i) => `SKU-${i}`);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const out: PosTransactionInput[] = [];
  const held: PosTransactionInput[] = [];
  while (out.length < count) {
    const r = random();
    const lines = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) =>
      random() < 0.2
        ? { sku: `WEIGHED-${i}`, quantity: Math.round(random() * 2000 + 1) / 1000, unitOfMeasure: 'KG' as const, unitPrice: 1299 }
        : { sku: pick(skus), quantity: 1 + Math.floor(random() * 3), voided: random() < 0.05 },
    );
    if (!lines.some((l) => !('voided' in l) || !l.voided)) continue;
    const tx = makeTransaction(lines, r < 0.05 ? { trainingMode: true } : r < 0.15 ? { type: 'RETURN', original: { transactionId: randomUUID(), terminalId: 'T01' } } : {});
    const voidTx = makeTransaction([], { type: 'POST_VOID', original: { transactionId: tx.transactionId, terminalId: 'T01' } });
    if (r > 0.9) {
      out.push(voidTx); // the void overtakes its sale; the sale follows later
      held.push(tx);
    } else if (r > 0.85) {
      out.push(tx, voidTx);
    } else {
      out.push(tx);
    }
    if (held.length > 0 && random() < 0.3) out.push(held.shift()!);
    if (random() < 0.05 && out.length > 1) out.push(pick(out.slice(0, -1))); // a retried copy
  }
  out.push(...held);
  return out;
}
