import type { ReplayRequest } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import type { Logger } from '@tillstream/observability';
import { HqRejected, type HqClient } from './hq-client.ts';
import { backlog, journalRange } from './outbox.ts';

/**
 * HQ's replay requests live in PostgreSQL (sync_replays), not in Redis: a
 * request is recorded when HQ names it, and sent from there until HQ took
 * it, so a replay needs only PostgreSQL and HQ (issue 13 item 8: Redis away
 * must not stop the repairs HQ asked for).
 */
export async function recordReplayRequest(pool: Pool, request: ReplayRequest): Promise<void> {
  await pool.query(
    `INSERT INTO sync_replays (request_id, business_day, terminal_id, from_seq, to_seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING`,
    [request.requestId, request.businessDay, request.terminalId, request.from, request.to],
  );
}

/** Replay requests recorded and not yet taken by HQ, oldest first. */
export async function pendingReplays(pool: Pool): Promise<ReplayRequest[]> {
  const { rows } = await pool.query<{ request_id: string; business_day: string; terminal_id: string; from_seq: string; to_seq: string }>(
    `SELECT request_id, to_char(business_day, 'YYYY-MM-DD') AS business_day, terminal_id, from_seq, to_seq FROM sync_replays WHERE sent_at IS NULL ORDER BY request_id`,
  );
  return rows.map((r) => ({ requestId: Number(r.request_id), businessDay: r.business_day, terminalId: r.terminal_id, from: Number(r.from_seq), to: Number(r.to_seq) }));
}

/** Sends the range a replay request asks for (once: a request HQ took is not sent again). */
export async function sendReplay(options: { pool: Pool; hq: HqClient; storeId: string; logger: Logger }, request: ReplayRequest): Promise<void> {
  const { pool, hq, storeId } = options;
  const { rows } = await pool.query<{ sent_at: Date | null }>('SELECT sent_at FROM sync_replays WHERE request_id = $1', [request.requestId]);
  if (rows[0]?.sent_at) return;
  const records = await journalRange(pool, request);
  const { records: behind, oldestAt } = await backlog(pool);
  try {
    await hq.uploadBatch({ batchId: `${storeId}-replay-${request.requestId}`, replayOf: request.requestId, records, backlog: { records: behind, oldestAt } });
  } catch (err) {
    // 422: HQ applied this replay before, with the range as it was then; it is answered.
    if (!(err instanceof HqRejected && err.status === 422)) throw err;
  }
  await pool.query('UPDATE sync_replays SET sent_at = now(), records = $2 WHERE request_id = $1', [request.requestId, records.length]);
  options.logger.info({ request: request.requestId, terminal: request.terminalId, from: request.from, to: request.to, records: records.length }, 'replayed a range HQ was missing');
}
