import { fileURLToPath } from 'node:url';
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

/**
 * Applies every pending migration of `target`, each in its own transaction,
 * under node-pg-migrate's advisory lock so two services starting together do
 * not race. Idempotent: a second run applies nothing. Returns the names applied.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const log = options.logger.child({ component: 'migrations', target: options.target });
  const applied = await runner({
    databaseUrl: options.databaseUrl,
    dir: migrationFiles(options.target),
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
