import type { HeldVoid } from '@tillstream/contracts';
import type { PoolClient } from './pool.ts';

/**
 * Post-voids held until their original is known (the rule: postVoids in
 * @tillstream/contracts), in the tables of the consumer that counts them.
 * Each pair is a voids table (original_transaction_id primary key,
 * void_transaction_id, occurred_at, applied_at; pending rows indexed) and
 * the table of transactions that consumer recorded.
 */
export const HELD_VOID_TABLES = {
  inventory: { voids: 'inventory_voids', transactions: 'inventory_pos_transactions' },
  trends: { voids: 'sales_voids', transactions: 'sales_transactions' },
} as const;

export type HeldVoidTables = (typeof HELD_VOID_TABLES)[keyof typeof HELD_VOID_TABLES];

/** Holds post-voids in the caller's transaction: the first void of an original wins, a second one changes nothing. */
export async function holdVoids(client: PoolClient, tables: HeldVoidTables, voids: readonly HeldVoid[]): Promise<void> {
  if (voids.length === 0) return;
  await client.query(
    `INSERT INTO ${tables.voids} (original_transaction_id, void_transaction_id, occurred_at)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[])
     ON CONFLICT (original_transaction_id) DO NOTHING`,
    [voids.map((v) => v.originalTransactionId), voids.map((v) => v.voidTransactionId), voids.map((v) => v.occurredAt)],
  );
}

/**
 * Marks applied, and returns, every held void whose original is now recorded
 * (in this batch or an earlier one): the caller takes the originals' effects
 * off in the same transaction. Pending voids are few (a partial index holds
 * only them), so this is cheap when there are none.
 */
export async function releaseVoids(client: PoolClient, tables: HeldVoidTables): Promise<HeldVoid[]> {
  const { rows } = await client.query<{ original_transaction_id: string; void_transaction_id: string; occurred_at: Date | null }>(
    `UPDATE ${tables.voids} v SET applied_at = now()
     WHERE v.applied_at IS NULL AND EXISTS (SELECT 1 FROM ${tables.transactions} t WHERE t.transaction_id = v.original_transaction_id)
     RETURNING v.original_transaction_id, v.void_transaction_id, v.occurred_at`,
  );
  return rows.map((r) => ({
    originalTransactionId: r.original_transaction_id,
    voidTransactionId: r.void_transaction_id,
    // Voids held before trends stored occurred_at (migration 20261130020000000) have none: their receipt stands in.
    occurredAt: (r.occurred_at ?? new Date()).toISOString(),
  }));
}
