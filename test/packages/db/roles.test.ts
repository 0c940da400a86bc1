import { describe, expect, it } from 'vitest';
import { testDatabase, testLogger, type TestDatabase } from '@tillstream/testing';
import {
  DATABASE_SERVICES,
  OWNER_ONLY_TABLES,
  OWNER_ROLE,
  SERVICE_DATABASE,
  createClient,
  createPool,
  serviceRole,
  type DatabaseService,
  type MigrationTarget,
} from '@tillstream/db';

/** A pool of `service`'s own role on `db`, closed when the test ends. */
function as(db: TestDatabase, service: DatabaseService) {
  const pool = createPool({ connectionString: db.urlFor(service), logger: testLogger(), applicationName: `test-${service}`, max: 1 });
  return {
    query: (sql: string) => pool.query(sql),
    end: () => pool.end(),
  };
}

async function refused(run: Promise<unknown>): Promise<string> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e as { code?: string; message: string },
  );
  expect(err, 'the statement should have been refused').toBeDefined();
  return `${err!.code}: ${err!.message}`;
}

describe('database roles', () => {
  for (const target of ['store', 'hq'] as const satisfies readonly MigrationTarget[]) {
    it(`every ${target} table is the owner's, and each one a service may use has its grants in the migrations (a table without grants fails here)`, async () => {
      const db = await testDatabase({ target });
      const services = DATABASE_SERVICES.filter((s) => SERVICE_DATABASE[s] === target);
      const { rows } = await db.pool.query<{ table: string; owner: string; users: string[]; partition: boolean }>(
        `SELECT c.relname AS table, pg_get_userbyid(c.relowner) AS owner, c.relispartition AS partition,
           ARRAY(SELECT r FROM unnest($1::text[]) AS r WHERE has_table_privilege(r, c.oid, 'SELECT, INSERT')) AS users
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1`,
        [services.map(serviceRole)],
      );
      expect(rows.length).toBeGreaterThan(5);
      for (const row of rows) {
        expect(row.owner, `owner of ${row.table}`).toBe(OWNER_ROLE);
        // A partition is reached through its parent, whose grants apply (HQ's monthly partitions, docs/hq-storage.md): none of its own.
        if (row.partition) expect(row.users, `${row.table} is a partition: used only through its parent`).toEqual([]);
        else if (row.table in OWNER_ONLY_TABLES[target]) expect(row.users, `${row.table} is owner-only`).toEqual([]);
        else expect(row.users, `no service role may use ${row.table}: grant it in the migration that creates it, or list it in OWNER_ONLY_TABLES`).not.toEqual([]);
      }
    });
  }

  it("ingest's role does DML on its journal, and cannot DROP, CREATE, TRUNCATE or read another service's table", async () => {
    const db = await testDatabase({ target: 'store' });
    const ingest = as(db, 'ingest');
    try {
      // What ingest does works: its own journal.
      await ingest.query("DELETE FROM ingest_transactions WHERE received_at < '2000-01-01'");
      expect(await refused(ingest.query('DROP TABLE ingest_transactions'))).toMatch(/^42501: must be owner of table ingest_transactions/);
      expect(await refused(ingest.query('CREATE TABLE stolen (x int)'))).toMatch(/^42501: permission denied for schema public/);
      expect(await refused(ingest.query('CREATE TEMP TABLE stolen (x int)'))).toMatch(/^42501: permission denied to create temporary tables/);
      expect(await refused(ingest.query('TRUNCATE ingest_transactions'))).toMatch(/^42501: permission denied for table ingest_transactions/);
      expect(await refused(ingest.query('ALTER TABLE ingest_transactions ADD COLUMN x int'))).toMatch(/^42501: must be owner/);
      // The ledger, sync's outbox, trends' facts: not ingest's.
      for (const table of ['inventory_items', 'inventory_movements', 'sync_outbox', 'sales_aggregates', 'consumer_offsets']) {
        expect(await refused(ingest.query(`SELECT * FROM ${table} LIMIT 1`))).toBe(`42501: permission denied for table ${table}`);
      }
      expect(await refused(ingest.query("INSERT INTO terminal_credentials (store_id, terminal_id, token_hash) VALUES ('S001', 'T99', '\\x00')"))).toBe(
        '42501: permission denied for table terminal_credentials',
      );
      expect(await refused(ingest.query('SET ROLE tillstream_owner'))).toMatch(/^42501: permission denied to set role/);
    } finally {
      await ingest.end();
    }
  });

  it("inventory appends quarantine entries to sync's outbox but cannot read it; trends cannot touch the ledger", async () => {
    const db = await testDatabase({ target: 'store' });
    const inventory = as(db, 'inventory');
    const trends = as(db, 'trends');
    try {
      await inventory.query(`SELECT append_sync_outbox('[{"stream": "quarantine", "record_key": "k1", "data": {}}]')`);
      expect((await db.pool.query('SELECT record_key FROM sync_outbox')).rows).toEqual([{ record_key: 'k1' }]);
      expect(await refused(inventory.query('SELECT * FROM sync_outbox'))).toBe('42501: permission denied for table sync_outbox');
      expect(await refused(inventory.query('SELECT record_key FROM sync_outbox'))).toBe('42501: permission denied for table sync_outbox');
      expect(await refused(inventory.query("INSERT INTO sync_outbox (stream, record_key, data) VALUES ('quarantine', 'k2', '{}')"))).toBe(
        '42501: permission denied for table sync_outbox',
      );
      expect(await refused(inventory.query('DELETE FROM sync_outbox'))).toBe('42501: permission denied for table sync_outbox');
      expect(await refused(trends.query('SELECT * FROM inventory_items'))).toBe('42501: permission denied for table inventory_items');
      expect(await refused(trends.query('SELECT * FROM ingest_transactions'))).toBe('42501: permission denied for table ingest_transactions');
    } finally {
      await inventory.end();
      await trends.end();
    }
  });

  it("no store role can connect to HQ's database, and HQ's role cannot connect to a store's", async () => {
    const [store, hq] = await Promise.all([testDatabase({ target: 'store' }), testDatabase({ target: 'hq' })]);
    const connect = async (url: string) => {
      const client = createClient({ connectionString: url, connectionTimeoutMs: 5000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    for (const service of ['ingest', 'inventory', 'trends', 'sync'] as const) {
      await connect(store.urlFor(service)); // its own database: fine
      expect(await refused(connect(hq.urlFor(service)))).toBe(`42501: permission denied for database "${hq.name}"`);
    }
    await connect(hq.urlFor('hq'));
    expect(await refused(connect(store.urlFor('hq')))).toBe(`42501: permission denied for database "${store.name}"`);
  });

  it('service roles and the owner have no attribute beyond LOGIN (not superuser, no CREATEDB, CREATEROLE, replication or RLS bypass)', async () => {
    const db = await testDatabase({ target: 'store' });
    const roles = [OWNER_ROLE, ...DATABASE_SERVICES.map(serviceRole)];
    const { rows } = await db.pool.query<{ rolname: string; attrs: boolean[] }>(
      'SELECT rolname, ARRAY[rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls] AS attrs FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1',
      [roles],
    );
    expect(rows.map((r) => r.rolname)).toEqual([...roles].sort());
    for (const r of rows) expect(r.attrs, r.rolname).toEqual([false, false, false, false, false]);
  });
});
