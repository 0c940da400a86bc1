import { describe, expect, it } from 'vitest';
import { maskCardLikeDigits, QuarantineEntryV1, safeErrorText, type QuarantineEntry } from '@tillstream/contracts';
import { testDatabase } from '@tillstream/testing';
import {
  withTransaction,
  type Pool,
  bookHqQuarantine,
  listQuarantine,
  openQuarantinedTransactions,
  recordQuarantine,
  resolveQuarantine,
  summarizeQuarantine,
  type DeadLetterInput,
} from '@tillstream/db';

const TX = '0b9f1c1e-8f43-4c3e-9a0e-2f8d3f1a7b11';
const value = Buffer.from(JSON.stringify({ schema: 'pos.transaction.v1', storeId: 'S001', data: { transactionId: TX, businessDay: '2026-11-28', storeId: 'S001' } }));
const deadLetter = (offset: string): DeadLetterInput => ({
  source: 'dead-letter',
  service: 'inventory',
  consumerGroup: 'inventory',
  topic: 'pos.transactions.v1',
  partition: 0,
  offset,
  key: 'S001:T1',
  value,
  headers: { 'tillstream-error-code': 'DATABASE_ERROR' },
  code: 'DATABASE_ERROR',
  message: 'value "4111 1111 1111 1111" rejected',
});

async function outboxEntries(pool: Pool): Promise<QuarantineEntry[]> {
  const { rows } = await pool.query<{ data: unknown }>("SELECT data FROM sync_outbox WHERE stream = 'quarantine' ORDER BY id");
  return rows.map((r) => QuarantineEntryV1.parse(r.data));
}

describe('quarantine (store)', () => {
  it('records a dead letter once, names its transaction, masks card-like digits, and sends every revision to HQ through the sync outbox', async () => {
    const db = await testDatabase({ target: 'store' });
    const first = await withTransaction(db.pool, (c) => recordQuarantine(c, 'store', 'S001', deadLetter('7')));
    // The same dead letter recorded again (a consumer that crashed before its offset moved) is the same entry.
    const again = await withTransaction(db.pool, (c) => recordQuarantine(c, 'store', 'S001', deadLetter('7')));
    expect(again.id).toBe(first.id);
    expect(first).toMatchObject({ status: 'open', transactionId: TX, businessDay: '2026-11-28', storeId: 'S001', revision: 1, replayable: true });
    expect(first.message).not.toMatch(/4111 1111/);
    expect(first.message).toContain('ends 1111');

    await expect(withTransaction(db.pool, (c) => resolveQuarantine(c, 'store', first.id, { status: 'discarded', actor: 'ops' }))).rejects.toThrow(/reason/);
    const discarded = await withTransaction(db.pool, (c) => resolveQuarantine(c, 'store', first.id, { status: 'discarded', actor: 'ops', reason: 'test sale' }));
    expect(discarded).toMatchObject({ status: 'discarded', actor: 'ops', reason: 'test sale', revision: 2 });
    // Resolved once: a second resolution finds nothing open.
    expect(await withTransaction(db.pool, (c) => resolveQuarantine(c, 'store', first.id, { status: 'replayed', actor: 'ops' }))).toBeUndefined();

    const sent = await outboxEntries(db.pool);
    expect(sent.map((e) => [e.entryId, e.revision, e.status])).toEqual([
      [first.id, 1, 'open'],
      [first.id, 2, 'discarded'],
    ]);
    expect(sent[1]!.resolution).toMatchObject({ actor: 'ops', reason: 'test sale' });
    expect(await listQuarantine(db.pool, 'store')).toEqual([]);
    expect(await listQuarantine(db.pool, 'store', { status: 'all' })).toHaveLength(1);
  });

  it('counts open entries by topic, service and code', async () => {
    const db = await testDatabase({ target: 'store' });
    for (const offset of ['1', '2']) await withTransaction(db.pool, (c) => recordQuarantine(c, 'store', 'S001', deadLetter(offset)));
    await withTransaction(db.pool, (c) =>
      recordQuarantine(c, 'store', 'S001', { source: 'upload-refused', service: 'sync', outboxId: '42', code: 'VALIDATION_FAILED', message: 'refused by HQ', transactionId: TX, businessDay: '2026-11-28' }),
    );
    const groups = await summarizeQuarantine(db.pool, 'store');
    expect(groups.map((g) => [g.service, g.code, g.count])).toEqual([
      ['inventory', 'DATABASE_ERROR', 2],
      ['sync', 'VALIDATION_FAILED', 1],
    ]);
  });
});

describe('quarantine (HQ)', () => {
  it('keeps the latest revision of each store entry whatever order they arrive in, and names open transactions of a day', async () => {
    const db = await testDatabase({ target: 'hq' });
    const entry: QuarantineEntry = {
      entryId: '3',
      storeId: 'S001',
      source: 'dead-letter',
      service: 'trends',
      topic: 'pos.transactions.v1',
      partition: 0,
      offset: '9',
      outboxId: null,
      code: 'DATABASE_ERROR',
      message: 'm',
      transactionId: TX,
      businessDay: '2026-11-28',
      quarantinedAt: new Date().toISOString(),
      status: 'open',
      resolution: null,
      revision: 1,
    };
    const replayed: QuarantineEntry = { ...entry, status: 'replayed', resolution: { actor: 'ops', at: new Date().toISOString(), reason: null }, revision: 2 };
    await bookHqQuarantine(db.pool, [entry]);
    expect(await openQuarantinedTransactions(db.pool, 'S001', '2026-11-28')).toEqual([TX]);
    await bookHqQuarantine(db.pool, [replayed]);
    await bookHqQuarantine(db.pool, [entry]); // a late copy of revision 1 changes nothing
    expect(await openQuarantinedTransactions(db.pool, 'S001', '2026-11-28')).toEqual([]);
    expect((await listQuarantine(db.pool, 'hq', { status: 'all' })).map((r) => [r.storeId, r.entryId, r.status, r.replayable])).toEqual([['S001', '3', 'replayed', false]]);
  });

  it("records HQ's own dead letters under the record's store, replayable at HQ", async () => {
    const db = await testDatabase({ target: 'hq' });
    const row = await withTransaction(db.pool, (c) => recordQuarantine(c, 'hq', 'unknown', { ...deadLetter('5'), service: 'hq', consumerGroup: 'hq-views.hq.transactions.v1' }));
    expect(row).toMatchObject({ storeId: 'S001', source: 'dead-letter', replayable: true, transactionId: TX });
    expect(row.entryId).toMatch(/^hq-[0-9a-f]{16}$/);
  });
});

describe('safeErrorText', () => {
  it('keeps what HQ accepts and an operator can read: no control characters, no lone surrogates, no card-like digits', () => {
    expect(safeErrorText('bad "Bread\u0000\n" \uD800 4111111111111111')).toBe('bad "Bread  " \uFFFD [16 digits masked, ends 1111]');
  });
});

describe('maskCardLikeDigits', () => {
  it('masks 13+ digit runs (spaced or dashed) but not transaction ids or short numbers', () => {
    expect(maskCardLikeDigits('card 4111-1111-1111-1111 at 12:30, qty 1234567')).toBe('card [16 digits masked, ends 1111] at 12:30, qty 1234567');
    expect(maskCardLikeDigits(`tx 12345678-1234-1234-1234-123456789012`)).toBe('tx 12345678-1234-1234-1234-123456789012');
  });
});
