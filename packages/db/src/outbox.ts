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
    /** Unpublished events, oldest first; after `after` (a row read before), or from the oldest. */
    async read(limit: number, after?: { id: string }): Promise<OutboxRow[]> {
      const { rows } = await db.query<OutboxRow>(
        'SELECT id, topic, data FROM event_outbox WHERE publisher = $1 AND id > $3::bigint ORDER BY id LIMIT $2',
        [publisher, limit, after?.id ?? '0'],
      );
      return rows;
    },
    /**
     * The broker acknowledged these rows: delete them, and only them. Ids are taken when a row is
     * inserted, not when it commits: a writer that commits late (a forecasting round beside the
     * consumer's batches) adds rows below ids already read, which the next read finds.
     */
    async acknowledge(rows: readonly { id: string }[]): Promise<void> {
      if (rows.length > 0) await db.query('DELETE FROM event_outbox WHERE publisher = $1 AND id = ANY($2::bigint[])', [publisher, rows.map((r) => r.id)]);
    },
    async backlog(): Promise<number> {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM event_outbox WHERE publisher = $1', [publisher]);
      return Number(rows[0]?.n ?? 0);
    },
  };
}
export type OutboxStore = ReturnType<typeof outboxStore>;
