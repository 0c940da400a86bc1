import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@tillstream/observability';
import { advisorySessionLock } from './locks.ts';
import { verifyFull } from './pool.ts';
import { adoptTables, ensureRoles, OWNER_ROLE, secureDatabase, type RolePasswords } from './roles.ts';

/** Which database a migration set is for: a store's, or HQ's. */
export type MigrationTarget = 'store' | 'hq';

const root = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Glob patterns of a target's migrations; `common` holds what both need (consumer offsets). */
export function migrationFiles(target: MigrationTarget): string[] {
  return [`${root}common/*.sql`, `${root}${target}/*.sql`];
}

export interface MigrateOptions {
  databaseUrl: string;
  target: MigrationTarget;
  logger: Logger;
  /** Passwords to give the roles (from secrets); a role without one keeps what it has. */
  passwords?: RolePasswords;
  /** CA of the server's certificate: verify-full TLS (see PoolOptions.caFile). */
  caFile?: string;
  /**
   * Apply only the migrations whose file name sorts before this one (e.g.
   * "20261201060000000"): a test of a migration that converts data brings a
   * database to just before it, fills it, then migrates the rest.
   */
  before?: string;
}

/**
 * Prepares a Tillstream database and applies every pending migration of
 * `target`, each in its own transaction, as the owner role: the roles exist
 * (roles.ts), the database is the owner's and only `target`'s services may
 * connect, and the migrations' grants give each service its DML. Run by an
 * administrator (`npx tillstream migrate`, the compose init step, the infra
 * tool and the tests' setup), never by a service at start. Connected as a
 * superuser it does all of it; connected as the owner role itself, it only
 * migrates what that role may. Idempotent: a second run applies nothing.
 * Returns the names applied.
 *
 * Two runs may start together (a test setup, `npm start`): node-pg-migrate's
 * own lock fails the second run ("Another migration is already running"), so
 * this takes a blocking advisory lock instead and the second run waits, then
 * finds nothing to do.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const log = options.logger.child({ component: 'migrations', target: options.target });
  const client = new pg.Client({ connectionString: options.databaseUrl, connectionTimeoutMillis: 5000, ...verifyFull(options.caFile) });
  client.on('error', (err) => log.warn({ err }, 'migration connection lost'));
  await client.connect();
  try {
    await advisorySessionLock(client, 'migrations');
    await ensureRoles(client, options.passwords);
    const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
    await secureDatabase(client, rows[0]!.name, options.target);
    await adoptTables(client);
    // What the migrations create is the owner's, whoever connected.
    await client.query(`SET ROLE ${OWNER_ROLE}`);
    return await applyPending(client, options.target, log, options.before);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The files of `target` named `before` or later, as glob patterns to ignore. */
function notBefore(target: MigrationTarget, before: string): string[] {
  return ['common', target].flatMap((dir) => readdirSync(`${root}${dir}`).filter((name) => name.endsWith('.sql') && name >= before).map((name) => `${root}${dir}/${name}`));
}

async function applyPending(client: pg.Client, target: MigrationTarget, log: Logger, before?: string): Promise<string[]> {
  const ignored = before === undefined ? [] : notBefore(target, before);
  const applied = await runner({
    ...(ignored.length > 0 ? { ignorePattern: ignored } : {}),
    dbClient: client,
    noLock: true,
    dir: migrationFiles(target),
    useGlob: true,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    logger: {
      debug: (msg: string) => log.debug(msg),
      info: (msg: string) => log.debug(msg),
      warn: (msg: string) => log.warn(msg),
      error: (msg: string) => log.error(msg),
    },
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) log.info({ applied: names }, 'migrations applied');
  return names;
}
