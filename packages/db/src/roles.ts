import type pg from 'pg';
import type { MigrationTarget } from './migrate.ts';

/**
 * Least privilege inside the database server (issue 15 item 2). Migrations run
 * as the owner role, which owns every database and table; each service logs
 * in with a role of its own that has only DML grants on its own tables (the
 * grants live with the migrations, migrations/{store,hq}/*_service-roles.sql)
 * and CONNECT on its own databases only. Roles are cluster-wide, so their
 * names are fixed and creating them is idempotent: several checkouts and
 * test runs share one server, and none ever drops a role.
 */
export const OWNER_ROLE = 'tillstream_owner';

/** The services with a database role, and the database each one uses. */
export const SERVICE_DATABASE = {
  ingest: 'store',
  inventory: 'store',
  trends: 'store',
  sync: 'store',
  hq: 'hq',
} as const satisfies Record<string, MigrationTarget>;

export type DatabaseService = keyof typeof SERVICE_DATABASE;

export const DATABASE_SERVICES = Object.keys(SERVICE_DATABASE) as DatabaseService[];

/**
 * Tables no service role may touch, with why: the test that every table has
 * an owning service (roles.test.ts) accepts only these.
 */
export const OWNER_ONLY_TABLES: Readonly<Record<MigrationTarget, Readonly<Record<string, string>>>> = {
  store: { pgmigrations: 'the migration runner' },
  hq: { pgmigrations: 'the migration runner', event_outbox: 'created by the common set; nothing at HQ publishes through it' },
};

export function serviceRole(service: DatabaseService): string {
  return `tillstream_${service}`;
}

/** Passwords to set, by role ("owner" or a service); a role without one keeps what it has. Never defaulted. */
export type RolePasswords = Partial<Record<DatabaseService | 'owner', string>>;

/** The roles that may connect to a database of `target`: the owner and that target's services. */
function connectingRoles(target: MigrationTarget): string[] {
  return [OWNER_ROLE, ...DATABASE_SERVICES.filter((s) => SERVICE_DATABASE[s] === target).map(serviceRole)];
}

/**
 * Creates the owner and service roles that do not exist yet (LOGIN, no other
 * attribute: not superuser, no CREATEDB, no CREATEROLE) and sets the given
 * passwords. Safe to run concurrently: a role created by another run meanwhile is fine.
 */
export async function ensureRoles(client: pg.ClientBase, passwords: RolePasswords = {}): Promise<void> {
  const wanted: Array<[DatabaseService | 'owner', string]> = [['owner', OWNER_ROLE], ...DATABASE_SERVICES.map((s): [DatabaseService, string] => [s, serviceRole(s)])];
  const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [wanted.map(([, role]) => role)]);
  const existing = new Set(rows.map((r) => r.rolname));
  for (const [key, role] of wanted) {
    if (!existing.has(role)) {
      try {
        await client.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
      } catch (err) {
        // 42710 duplicate_object / 23505 unique_violation: another run created it between our look and our CREATE.
        const code = (err as { code?: string }).code;
        if (code !== '42710' && code !== '23505') throw err;
      }
    }
    const password = passwords[key];
    // ALTER ROLE takes no bind parameters; escapeLiteral quotes the secret safely.
    if (password !== undefined) await client.query(`ALTER ROLE ${role} PASSWORD ${client.escapeLiteral(password)}`);
  }
}

/**
 * Makes database `name` a Tillstream database of `target`: owned by the
 * owner role (so migrations run as it can create tables), and CONNECT (and
 * TEMP) taken from PUBLIC and given to the owner and `target`'s services
 * only, so no store role can connect to HQ's database. Database privileges
 * live in pg_database and CREATE DATABASE ... TEMPLATE does not copy them:
 * every database gets this call. `client` may be connected to any database.
 */
export async function secureDatabase(client: pg.ClientBase, name: string, target: MigrationTarget): Promise<void> {
  const { rows } = await client.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [name]);
  if (!rows[0]) throw new Error(`database ${name} does not exist`);
  const db = client.escapeIdentifier(name);
  if (rows[0].owner !== OWNER_ROLE) await client.query(`ALTER DATABASE ${db} OWNER TO ${OWNER_ROLE}`);
  await client.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
  await client.query(`GRANT CONNECT ON DATABASE ${db} TO ${connectingRoles(target).join(', ')}`);
}

/**
 * Hands the owner role the tables of the current database that another role
 * owns: databases migrated by earlier versions (as a superuser, at service
 * start) become ones the owner can migrate further. Sequences of identity
 * columns follow their table.
 */
export async function adoptTables(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND pg_get_userbyid(c.relowner) <> $1`,
    [OWNER_ROLE],
  );
  for (const { name } of rows) await client.query(`ALTER TABLE public.${client.escapeIdentifier(name)} OWNER TO ${OWNER_ROLE}`);
}

/** `url` with its user replaced by `service`'s role (and no password: give the role's own, from its secret). */
export function serviceDatabaseUrl(url: string, service: DatabaseService): string {
  const u = new URL(url);
  u.username = serviceRole(service);
  u.password = '';
  return u.toString();
}
