import { createPool, withTransaction, type PoolClient } from '@tillstream/db';
import { cutBatches } from '../services/sync/src/outbox.ts';
import { table } from './harness.ts';
import { benchLogger as logger, scratchDatabase } from './store-data.ts';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const RUNS = 5;

/** The cut before batches had a byte cap (by record count alone, one statement): the baseline. */
const COUNT_ONLY_CUT = `WITH next AS (
    SELECT id, created_at, (row_number() OVER (ORDER BY id) - 1) / $2 AS chunk FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)
  ), cut AS (
    INSERT INTO sync_batches (batch_id, first_id, last_id, records, oldest_at)
    SELECT $1 || '-' || min(id) || '-' || max(id), min(id), max(id), count(*), min(created_at) FROM next GROUP BY chunk RETURNING 1
  )
  SELECT count(*) FROM cut`;

/** Fills of the outbox: ~1 KB JSON documents, as the sync consumers write them. */
const FILL = (table: string) =>
  `INSERT INTO ${table} (stream, record_key, data) SELECT 'aggregate', 'k' || g, jsonb_build_object('storeId', 'S001', 'pad', repeat('x', 900), 'n', g) FROM generate_series(1, $1) g`;

/**
 * Cutting the sync outbox into upload batches, capped in bytes (issue 13
 * item 6) vs by count alone: the same records, each statement run in a
 * transaction that is rolled back, median of 5 (interleaved with the baseline's). And what the stored byte
 * size (a generated column) adds to writing the outbox: the same fill into
 * sync_outbox and into a copy of it without the column.
 */
export async function syncCutBench(): Promise<string> {
  const db = await scratchDatabase('sync_cut');
  const pool = createPool({ connectionString: db.url, logger, applicationName: 'bench-sync-cut', max: 2 });
  try {
    const once = async (fn: (client: PoolClient) => Promise<unknown>): Promise<number> => {
      const started = performance.now();
      await withTransaction(pool, async (client) => {
        await fn(client);
        throw new RollBack();
      }).catch((err: unknown) => {
        if (!(err instanceof RollBack)) throw err;
      });
      return performance.now() - started;
    };
    /** Medians of a baseline and its peer, their runs interleaved so that drift on a shared machine hits both alike. */
    const medians = async (base: (client: PoolClient) => Promise<unknown>, peer: (client: PoolClient) => Promise<unknown>): Promise<[number, number]> => {
      const runs: [number[], number[]] = [[], []];
      for (let i = 0; i < RUNS; i++) {
        runs[0].push(await once(base));
        runs[1].push(await once(peer));
      }
      const mid = (r: number[]) => r.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
      return [mid(runs[0]), mid(runs[1])];
    };
    await pool.query('CREATE TABLE outbox_without_bytes (LIKE sync_outbox INCLUDING ALL)');
    await pool.query('ALTER TABLE outbox_without_bytes DROP COLUMN bytes');
    const [fillPlain, fillBytes] = await medians(
      (c) => c.query(FILL('outbox_without_bytes'), [RECORDS]),
      (c) => c.query(FILL('sync_outbox'), [RECORDS]),
    );
    await pool.query(FILL('sync_outbox'), [RECORDS]);
    await pool.query('VACUUM ANALYZE sync_outbox');
    const [countOnly, capped] = await medians(
      (c) => c.query(COUNT_ONLY_CUT, ['S001', 2000]),
      (c) => cutBatches(c, 'S001', { records: 2000, bytes: 8 * 1024 * 1024 }),
    );
    const row = (run: string, ms: number, note: string) => ({ run, records: RECORDS, ms: Math.round(ms), 'us/record': Number(((ms * 1000) / RECORDS).toFixed(2)), note });
    return [
      `Sync outbox: ${RECORDS.toLocaleString('en')} records of ~1 KB (BENCH_RECORDS), median of ${RUNS} runs each, baseline and peer interleaved, rolled back:`,
      table([
        row('write, without the byte column (baseline)', fillPlain, 'INSERT ... SELECT into a copy of sync_outbox (same indexes)'),
        row('write, with the stored byte column', fillBytes, 'sync_outbox.bytes = octet_length(data::text) + ...'),
        row('cut by count alone (baseline)', countOnly, 'the cut before byte caps: 2000 records a batch'),
        row('cut by count and bytes', capped, 'cutBatches: 2000 records and 8 MB a batch'),
      ]),
    ].join('\n');
  } finally {
    await pool.end();
    await db.drop();
  }
}

class RollBack extends Error {}
