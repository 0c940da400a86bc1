import pg from 'pg';
import type { MigrationTarget } from './migrate.ts';
import { secureDatabase } from './roles.ts';

/** Database names Tillstream creates: lower-case identifiers only, so they never need quoting tricks. */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkName(name: string): string {
  if (!DATABASE_NAME.test(name)) throw new Error(`invalid database name "${name}": use lower-case letters, digits and _`);
  return name;
}

/** The URL of database `name` on the server of `url`. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function withAdminClient<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(serverUrl, 'postgres'), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates database `name` unless it exists; returns true if it created it.
 * With `target`, the database (new or not) is secured for that target's
 * services (roles.ts secureDatabase): a clone of a migrated template needs
 * it, since CREATE DATABASE ... TEMPLATE does not copy who may connect.
 */
export async function ensureDatabase(serverUrl: string, name: string, options: { template?: string; target?: MigrationTarget } = {}): Promise<boolean> {
  checkName(name);
  return withAdminClient(serverUrl, async (client) => {
    const created = await createDatabase(client, name, options.template);
    if (options.target) await secureDatabase(client, name, options.target);
    return created;
  });
}

async function createDatabase(client: pg.Client, name: string, template: string | undefined): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rowCount) return false;
  try {
    await client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${checkName(template)}` : ''}`);
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return false; // created concurrently
    throw err;
  }
  return true;
}

/** Drops database `name` if it exists, disconnecting whoever is still on it. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  checkName(name);
  await withAdminClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
