import { describe, expect, it } from 'vitest';
import { testDatabase } from '@tillstream/testing';
import { LOCK_NAMESPACE, advisoryXactLock, requestHash, runIdempotent, tryAdvisoryXactLock } from '@tillstream/db';

describe('advisory locks', () => {
  it('gives every namespace its own number', () => {
    const numbers = Object.values(LOCK_NAMESPACE);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('excludes the same (namespace, key) and nothing else', async () => {
    const db = await testDatabase({ target: 'store' });
    const holder = await db.pool.connect();
    const other = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await advisoryXactLock(holder, 'inventoryOperation', 'k1');
      await advisoryXactLock(holder, 'syncOutbox');
      await other.query('BEGIN');
      expect(await tryAdvisoryXactLock(other, 'inventoryOperation', 'k1')).toBe(false);
      expect(await tryAdvisoryXactLock(other, 'syncOutbox')).toBe(false);
      expect(await tryAdvisoryXactLock(other, 'inventoryOperation', 'k2')).toBe(true);
      expect(await tryAdvisoryXactLock(other, 'hqBatch', 'k1')).toBe(true);
      await holder.query('COMMIT');
      expect(await tryAdvisoryXactLock(other, 'inventoryOperation', 'k1')).toBe(true);
      await other.query('COMMIT');
    } finally {
      holder.release();
      other.release();
    }
  });
});

describe('runIdempotent', () => {
  it('performs once, replays the same request, refuses another under the key (422) and one in flight (409)', async () => {
    const db = await testDatabase({ target: 'store' });
    const stored = new Map<string, { hash: Buffer; result: number }>();
    let performed = 0;
    const run = (key: string, body: string) =>
      runIdempotent<number>(db.pool, {
        namespace: 'inventoryOperation',
        key,
        hash: requestHash(body),
        refuse: { inFlight: () => new Error('409'), reused: () => new Error('422') },
        find: async () => stored.get(key),
        perform: async () => {
          performed++;
          stored.set(key, { hash: requestHash(body), result: performed });
          return performed;
        },
      });
    expect(await run('a', 'body')).toEqual({ result: 1, replayed: false });
    expect(await run('a', 'body')).toEqual({ result: 1, replayed: true });
    await expect(run('a', 'other body')).rejects.toThrow('422');
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await advisoryXactLock(holder, 'inventoryOperation', 'b');
      await expect(run('b', 'body')).rejects.toThrow('409');
      await holder.query('ROLLBACK');
    } finally {
      holder.release();
    }
    expect(await run('b', 'body')).toEqual({ result: 2, replayed: false });
  });
});
