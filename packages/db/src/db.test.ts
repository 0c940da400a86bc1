import { describe, expect, it } from 'vitest';
import { testDatabase, testLogger } from '@tillstream/testing';
import { classifyPgError, isTransientPgError } from './errors.ts';
import { migrate } from './migrate.ts';
import { loadConsumerOffset, saveConsumerOffset } from './offsets.ts';
import { createPool, withTransaction } from './pool.ts';

describe('migrations', () => {
  for (const target of ['store', 'hq'] as const) {
    it(`apply the ${target} set on an empty database, and a second run applies nothing`, async () => {
      const db = await testDatabase({ target: 'empty' });
      const first = await migrate({ databaseUrl: db.url, target, logger: testLogger() });
      expect(first.length).toBeGreaterThan(0);
      const { rows } = await db.pool.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
      );
      expect(rows.map((r) => r.table_name)).toContain('consumer_offsets');
      expect(await migrate({ databaseUrl: db.url, target, logger: testLogger() })).toEqual([]);
    });
  }

  it('apply once when two services start at the same time', async () => {
    const db = await testDatabase({ target: 'empty' });
    const runs = await Promise.all([1, 2].map(() => migrate({ databaseUrl: db.url, target: 'store', logger: testLogger() })));
    const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM pgmigrations');
    expect(Number(rows[0]!.n)).toBe(runs.flat().length);
  });
});

describe('consumer offsets', () => {
  it('are stored with the effects and never move backwards', async () => {
    const db = await testDatabase({ target: 'store' });
    const key = { groupId: 'inventory', topic: 'pos.transactions.v1', partition: 2 };
    expect(await loadConsumerOffset(db.pool, key)).toBeUndefined();
    await withTransaction(db.pool, (client) => saveConsumerOffset(client, { ...key, nextOffset: '42' }));
    await saveConsumerOffset(db.pool, { ...key, nextOffset: '17' }); // a stale member after a rebalance
    expect(await loadConsumerOffset(db.pool, key)).toBe('42');
  });

  it('roll back with the effects when the transaction fails', async () => {
    const db = await testDatabase({ target: 'store' });
    const key = { groupId: 'inventory', topic: 'pos.transactions.v1', partition: 0 };
    await expect(
      withTransaction(db.pool, async (client) => {
        await saveConsumerOffset(client, { ...key, nextOffset: '10' });
        throw new Error('effect failed');
      }),
    ).rejects.toThrow('effect failed');
    expect(await loadConsumerOffset(db.pool, key)).toBeUndefined();
  });
});

describe('error classification', () => {
  it('calls an unreachable database retriable and a bad statement not', async () => {
    const pool = createPool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', logger: testLogger(), applicationName: 'test', connectionTimeoutMs: 500 });
    const unreachable = await pool.query('SELECT 1').catch((err: unknown) => err);
    await pool.end();
    expect(isTransientPgError(unreachable)).toBe(true);
    expect(classifyPgError(unreachable)).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });

    const db = await testDatabase({ target: 'store' });
    const syntax = await db.pool.query('SELEC 1').catch((err: unknown) => err);
    expect(classifyPgError(syntax)).toMatchObject({ code: 'DATABASE_ERROR', retriable: false });
  });
});
