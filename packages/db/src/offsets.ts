import { withTransaction, type Pool, type PoolClient, type Queryable } from './pool.ts';

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

export interface ConsumerPosition {
  groupId: string;
  topic: string;
  partition: number;
  /** The offset of the first record this transaction books. */
  fromOffset: string;
  /** The offset to resume from once this transaction commits. */
  nextOffset: string;
}

/**
 * The consumer runner's hooks for offsets kept here: where to resume, and
 * moving past a dead-lettered record or one replayed for another group.
 */
export function consumerOffsetHooks(pool: Pool, groupId: string) {
  return {
    storedOffset: (topic: string, partition: number) => loadConsumerOffset(pool, { groupId, topic, partition }),
    onDeadLettered: ({ topic, partition, nextOffset }: { topic: string; partition: number; nextOffset: string }) =>
      saveConsumerOffset(pool, { groupId, topic, partition, nextOffset }),
    onSkipped: ({ topic, partition, nextOffset }: { topic: string; partition: number; nextOffset: string }) =>
      saveConsumerOffset(pool, { groupId, topic, partition, nextOffset }),
  };
}

/**
 * One consumed batch as one database transaction: `fn` writes the effects,
 * then the next offset is stored with them. Commits without waiting for the
 * WAL flush: everything written is derived from the topic, the offset
 * included, so a power cut that loses the last commits loses them together
 * and the consumer replays those records.
 *
 * Fenced: the transaction first locks its partition's offset row (made at
 * `fromOffset` when the group has none yet) and hands `fn` the offset the
 * partition stands at; `fn` books only records at or after it. A member
 * that lost the partition in a rebalance while a batch was still being
 * booked, or that books a batch again after a seek, waits for the other
 * transaction and then finds those records booked: nothing is booked twice,
 * whatever the members' timing.
 */
export function withConsumerTransaction<T>(pool: Pool, position: ConsumerPosition, fn: (client: PoolClient, from: bigint) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    const group = client.escapeLiteral(position.groupId);
    const topic = client.escapeLiteral(position.topic);
    const partition = Number(position.partition);
    // One round trip: a simple query may hold several statements; the last one's rows are the stored offset.
    const results = (await client.query(
      // Batches aggregate tens of thousands of rows in memory while catching up; the default 4 MB spills to disk.
      `SET LOCAL synchronous_commit = off; SET LOCAL work_mem = '64MB';
       INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES (${group}, ${topic}, ${partition}, ${BigInt(position.fromOffset)})
       ON CONFLICT (group_id, topic, partition) DO NOTHING;
       SELECT next_offset FROM consumer_offsets WHERE group_id = ${group} AND topic = ${topic} AND partition = ${partition} FOR UPDATE`,
    )) as unknown as Array<{ rows: Array<{ next_offset: string }> }>;
    const stored = results[results.length - 1]!.rows[0]!.next_offset;
    const result = await fn(client, BigInt(stored));
    await saveConsumerOffset(client, position);
    return result;
  });
}
