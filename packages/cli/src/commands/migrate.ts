import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DATABASE_SERVICES, databaseUrl, ensureDatabase, migrate, type MigrationTarget, type RolePasswords } from '@tillstream/db';
import { createLogger } from '@tillstream/observability';
import { cliEnv } from '../env.ts';

/**
 * Role passwords from a directory of secret files, one per role, named after
 * it: `owner`, `ingest`, `inventory`, `trends`, `sync`, `hq`. A missing file
 * leaves that role's password as it is; nothing is ever defaulted.
 */
export function readRolePasswords(dir: string): RolePasswords {
  const passwords: RolePasswords = {};
  for (const role of ['owner', ...DATABASE_SERVICES] as const) {
    const file = join(dir, role);
    if (!existsSync(file)) continue;
    const password = readFileSync(file, 'utf8').trim();
    if (password.length < 16) throw new Error(`${file}: a role password must be at least 16 characters`);
    passwords[role] = password;
  }
  return passwords;
}

/** POSTGRES_URL with the administrator's password from POSTGRES_PASSWORD_FILE, when given (compose's secret). */
function serverUrl(): string {
  if (!cliEnv.POSTGRES_PASSWORD_FILE) return cliEnv.POSTGRES_URL;
  const url = new URL(cliEnv.POSTGRES_URL);
  url.password = encodeURIComponent(readFileSync(cliEnv.POSTGRES_PASSWORD_FILE, 'utf8').trim());
  return url.toString();
}

/**
 * `tillstream migrate`: what runs DDL, so that no service does. Creates the
 * database if needed, the owner and service roles (with passwords from
 * secret files), gives the database to the owner with CONNECT for its own
 * services only, and applies the migrations as the owner, grants included.
 * The compose init step and `npm start` run it; services never migrate.
 */
export function migrateCommand(): Command {
  return new Command('migrate')
    .description(
      'create a database if needed, provision the owner and per-service roles, and apply the migrations as the owner role ' +
        '(run before starting services: they connect with DML-only roles and never migrate). Connects as POSTGRES_URL, an administrator ' +
        '(password: POSTGRES_PASSWORD_FILE), or as the owner role once it has been provisioned.',
    )
    .requiredOption('--target <store|hq>', "which migrations: a store's database or HQ's", (v): MigrationTarget => {
      if (v !== 'store' && v !== 'hq') throw new InvalidArgumentError('--target must be store or hq');
      return v;
    })
    .requiredOption('--database <name>', 'the database (created on POSTGRES_URL if missing), e.g. tillstream_store_s001 or tillstream_hq', (v) => {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(v)) throw new InvalidArgumentError('--database must be lower-case letters, digits and _');
      return v;
    })
    .option('--passwords-dir <dir>', 'directory of role password files named owner, ingest, inventory, trends, sync, hq (e.g. /run/secrets/postgres-roles)')
    .option('--ca-file <file>', "CA of the server's certificate: TLS with the certificate and host name checked (sslmode=verify-full)")
    .action(async (opts: { target: MigrationTarget; database: string; passwordsDir?: string; caFile?: string }) => {
      // Its summary line is the output; the log says only what went wrong (as the other commands).
      const logger = createLogger({ name: 'migrate', level: 'warn' });
      const server = serverUrl();
      const passwords = opts.passwordsDir ? readRolePasswords(opts.passwordsDir) : {};
      const created = await ensureDatabase(server, opts.database);
      const applied = await migrate({ databaseUrl: databaseUrl(server, opts.database), target: opts.target, logger, passwords, caFile: opts.caFile });
      console.log(`${opts.database}${created ? ' (created)' : ''}: ${applied.length === 0 ? 'up to date' : `applied ${applied.join(', ')}`}; roles provisioned${Object.keys(passwords).length ? ` (passwords set: ${Object.keys(passwords).join(', ')})` : ''}`);
    });
}
