import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@tillstream/observability';

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
}

/** Key of the advisory lock that serialises migration runs on one database. */
const MIGRATION_LOCK = 7_421_001;

/**
 * Applies every pending migration of `target`, each in its own transaction.
 * Idempotent: a second run applies nothing. Returns the names applied.
 *
 * Services migrate at start, so two may start together: node-pg-migrate's own
 * lock fails the second run ("Another migration is already running"), so this
 * takes a blocking advisory lock instead and the second run waits, then
 * finds nothing to do.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const log = options.logger.child({ component: 'migrations', target: options.target });
  const client = new pg.Client({ connectionString: options.databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', (err) => log.warn({ err }, 'migration connection lost'));
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return await applyPending(client, options.target, log);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function applyPending(client: pg.Client, target: MigrationTarget, log: Logger): Promise<string[]> {
  const applied = await runner({
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
