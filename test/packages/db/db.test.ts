import { describe, expect, it } from 'vitest';
import { testDatabase, testLogger, waitFor } from '@tillstream/testing';
import {
  classifyPgError,
  createPool,
  isTransientPgError,
  loadConsumerOffset,
  migrate,
  pgErrorClass,
  saveConsumerOffset,
  withConsumerTransaction,
  withTransaction,
} from '@tillstream/db';

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

describe('a consumer transaction', () => {
  const key = { groupId: 'inventory', topic: 'pos.transactions.v1', partition: 0 };

  it('hands its batch the offset the partition stands at: its own first offset for a new group, the stored one after', async () => {
    const db = await testDatabase({ target: 'store' });
    expect(await withConsumerTransaction(db.pool, { ...key, fromOffset: '5', nextOffset: '9' }, async (_client, from) => from)).toBe(5n);
    expect(await loadConsumerOffset(db.pool, key)).toBe('9');
    // A member that fetched from Kafka's committed offset, behind the store: the batch learns where the store stands.
    expect(await withConsumerTransaction(db.pool, { ...key, fromOffset: '7', nextOffset: '12' }, async (_client, from) => from)).toBe(9n);
    expect(await loadConsumerOffset(db.pool, key)).toBe('12');
  });

  it('waits for another member booking the same records, then finds them booked (a rebalance while a batch is in hand)', async () => {
    const db = await testDatabase({ target: 'store' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const first = withConsumerTransaction(db.pool, { ...key, fromOffset: '0', nextOffset: '100' }, async (_client, from) => {
      entered();
      await gate;
      return from;
    });
    await inside;
    const second = withConsumerTransaction(db.pool, { ...key, fromOffset: '0', nextOffset: '100' }, async (_client, from) => from);
    // The second member's transaction is blocked on the partition's offset row, not past it.
    await waitFor(
      async () => {
        const { rows } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        return Number(rows[0]!.n) === 1;
      },
      { message: "the second member waiting on the first's lock" },
    );
    release();
    expect(await first).toBe(0n);
    expect(await second).toBe(100n);
    expect(await loadConsumerOffset(db.pool, key)).toBe('100');
  });
});

describe('error classification', () => {
  it('calls an unreachable database and a broken statement retriable, and bad data not', async () => {
    const pool = createPool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', logger: testLogger(), applicationName: 'test', connectionTimeoutMs: 500 });
    const unreachable = await pool.query('SELECT 1').catch((err: unknown) => err);
    await pool.end();
    expect(isTransientPgError(unreachable)).toBe(true);
    expect(classifyPgError(unreachable)).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });

    const db = await testDatabase({ target: 'store' });
    // A statement that can never run is a bug or a missing migration: the same for every record, so a
    // consumer must stop and retry rather than dead-letter its whole topic.
    const syntax = await db.pool.query('SELEC 1').catch((err: unknown) => err);
    expect(classifyPgError(syntax)).toMatchObject({ code: 'DATABASE_STATEMENT_INVALID', retriable: true });
    const missing = await db.pool.query('SELECT no_such_column FROM consumer_offsets').catch((err: unknown) => err);
    expect(classifyPgError(missing)).toMatchObject({ code: 'DATABASE_STATEMENT_INVALID', retriable: true });
    // Bad data is the record's own fault.
    const overflow = await db.pool.query("SELECT 'x'::int").catch((err: unknown) => err);
    expect(classifyPgError(overflow)).toMatchObject({ code: 'DATABASE_ERROR', retriable: false });
  });
});

describe('a transaction whose connection is lost between two statements', () => {
  it('fails retriable and leaves the process running (no unhandled client error)', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = createPool({ connectionString: db.url, logger: testLogger(), applicationName: 'lost-connection-test' });
    const outcome = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Another session ends this one while it computes between statements, as a database restart would.
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      // pg_terminate_backend only signals: the next statement must meet a session that is gone, so wait until it is.
      await waitFor(async () => (await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0]!.pid])).rowCount === 0, { message: 'the session to end' });
      return client.query('SELECT 1');
    }).catch((err: unknown) => err);
    expect(outcome).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });
    // The broken client was discarded: the pool serves a working one next.
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    await pool.end();
  });
});

describe('SQLSTATE classes', () => {
  // Read-only (a failover), a cancelled statement and a lock timeout were called poison, so consumers
  // dead-lettered every record they met while the database was briefly unable to write.
  const fake = (code: string) => Object.assign(new Error(`fake ${code}`), { code });

  it.each([
    ['08006', 'connection failure'],
    ['08001', 'cannot connect'],
    ['25006', 'read-only transaction (failover to a standby)'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['53100', 'disk full'],
    ['53200', 'out of memory'],
    ['53300', 'too many connections'],
    ['55P03', 'lock not available'],
    ['57014', 'query cancelled'],
    ['57P01', 'admin shutdown'],
    ['57P03', 'cannot connect now (starting up)'],
    ['58030', 'I/O error'],
    ['XX000', 'internal error'],
  ])('%s (%s) is transient: retried, never dead-lettered', (code) => {
    expect(pgErrorClass(fake(code))).toBe('transient');
    expect(classifyPgError(fake(code))).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });
  });

  it.each([
    ['22021', 'invalid byte sequence'],
    ['22P05', 'untranslatable character (NUL)'],
    ['22P02', 'invalid text representation'],
    ['22003', 'numeric out of range'],
    ['23505', 'unique violation'],
    ['23514', 'check violation'],
    ['23502', 'not null violation'],
  ])('%s (%s) is poison', (code) => {
    expect(pgErrorClass(fake(code))).toBe('data');
    expect(classifyPgError(fake(code))).toMatchObject({ code: 'DATABASE_ERROR', retriable: false, message: expect.stringContaining(`SQLSTATE ${code}`) });
  });

  it('classifies the errors a real PostgreSQL raises for each case', async () => {
    const db = await testDatabase({ target: 'store' });
    const failure = (p: Promise<unknown>) => p.then(() => expect.fail('should have failed'), (err: unknown) => err);
    const readOnly = await failure(
      withTransaction(db.pool, async (c) => {
        await c.query('SET TRANSACTION READ ONLY');
        await c.query("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ('g', 't', 0, 1)");
      }),
    );
    expect(readOnly).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });
    const cancelled = await failure(
      withTransaction(db.pool, async (c) => {
        await c.query("SET LOCAL statement_timeout = '10ms'");
        await c.query('SELECT pg_sleep(5)');
      }),
    );
    expect(cancelled).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });
    await db.pool.query("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ('g', 't', 0, 1)");
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT * FROM consumer_offsets WHERE group_id = 'g' FOR UPDATE");
      const locked = await failure(withTransaction(db.pool, (c) => c.query("SELECT * FROM consumer_offsets WHERE group_id = 'g' FOR UPDATE NOWAIT")));
      expect(locked).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const nul = await failure(withTransaction(db.pool, (c) => c.query("SELECT '\"a\\u0000\"'::jsonb->>0")));
    expect(nul).toMatchObject({ code: 'DATABASE_ERROR', retriable: false });
    const duplicate = await failure(
      withTransaction(db.pool, (c) => c.query("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ('g', 't', 0, 1)")),
    );
    expect(duplicate).toMatchObject({ code: 'DATABASE_ERROR', retriable: false });
  });
});
