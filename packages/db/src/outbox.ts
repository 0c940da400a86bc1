import type { Queryable } from './pool.ts';

/** The transactional outbox (migrations/common/*_event-outbox.sql), one publisher name per service. */

export interface OutboxEvent {
  /** The topic's base name (its spec's `name`); the publisher adds the store's prefix. */
  topic: string;
  data: unknown;
}

export interface OutboxRow extends OutboxEvent {
  id: string;
}

/** Adds events in the caller's transaction, in order. */
export async function writeOutbox(db: Queryable, publisher: string, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `INSERT INTO event_outbox (publisher, topic, data)
     SELECT $1, topic, data FROM unnest($2::text[], $3::jsonb[]) WITH ORDINALITY AS u(topic, data, n) ORDER BY n`,
    [publisher, events.map((e) => e.topic), events.map((e) => JSON.stringify(e.data))],
  );
}

/** One publisher's view of the outbox: what its OutboxPublisher reads and deletes. */
export function outboxStore(db: Queryable, publisher: string) {
  return {
    /** Unpublished events, oldest first. */
    async read(limit: number): Promise<OutboxRow[]> {
      const { rows } = await db.query<OutboxRow>('SELECT id, topic, data FROM event_outbox WHERE publisher = $1 ORDER BY id LIMIT $2', [publisher, limit]);
      return rows;
    },
    /** The broker acknowledged these (the oldest rows, in order): delete them. */
    async acknowledge(rows: readonly { id: string }[]): Promise<void> {
      const last = rows[rows.length - 1];
      if (last) await db.query('DELETE FROM event_outbox WHERE publisher = $1 AND id <= $2', [publisher, last.id]);
    },
    async backlog(): Promise<number> {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM event_outbox WHERE publisher = $1', [publisher]);
      return Number(rows[0]?.n ?? 0);
    },
  };
}
export type OutboxStore = ReturnType<typeof outboxStore>;
