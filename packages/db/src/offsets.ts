import type { Queryable } from './pool.ts';

/**
 * Consumer offsets kept in PostgreSQL (see migrations/common). Handlers call
 * `saveConsumerOffset` inside the transaction that writes their effects.
 */
export async function loadConsumerOffset(
  db: Queryable,
  key: { groupId: string; topic: string; partition: number },
): Promise<string | undefined> {
  const { rows } = await db.query<{ next_offset: string }>(
    'SELECT next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3',
    [key.groupId, key.topic, key.partition],
  );
  return rows[0]?.next_offset;
}

/** Stores the next offset to process; never moves it backwards (a stale rebalanced member cannot rewind). */
export async function saveConsumerOffset(
  db: Queryable,
  key: { groupId: string; topic: string; partition: number; nextOffset: string },
): Promise<void> {
  await db.query(
    `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (group_id, topic, partition)
     DO UPDATE SET next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()`,
    [key.groupId, key.topic, key.partition, key.nextOffset],
  );
}
