import { Command } from 'commander';
import { Identifier } from '@tillstream/contracts';
import { createPool, databaseUrl, issueTerminalToken, listTerminals, migrate, revokeTerminal } from '@tillstream/db';
import { createLogger } from '@tillstream/observability';
import { cliEnv } from '../env.ts';

/** The database of a store: DATABASE_URL if given, else tillstream_store_<id> on POSTGRES_URL. */
export function storeDatabaseUrl(storeId: string, explicit?: string): string {
  return explicit ?? cliEnv.DATABASE_URL ?? databaseUrl(cliEnv.POSTGRES_URL, `tillstream_store_${storeId.toLowerCase().replace(/-/g, '_')}`);
}

export function identifier(what: string) {
  return (value: string) => {
    const parsed = Identifier.safeParse(value);
    if (!parsed.success) throw new Error(`${what} "${value}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return value;
  };
}

export async function withStoreDb<T>(storeId: string, url: string | undefined, fn: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const logger = createLogger({ name: 'cli', level: 'warn' });
  const connectionString = storeDatabaseUrl(storeId, url);
  await migrate({ databaseUrl: connectionString, target: 'store', logger });
  const pool = createPool({ connectionString, logger, applicationName: 'tillstream-cli', max: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/** --store, --terminal (unless `storeOnly`) and --database-url, shared by every terminal command. */
function withTerminalOptions(command: Command, storeOnly = false): Command {
  command.requiredOption('--store <id>', 'store id', identifier('store'));
  if (!storeOnly) command.requiredOption('--terminal <id>', 'terminal id', identifier('terminal'));
  return command.option('--database-url <url>', 'store database (default: tillstream_store_<store> on POSTGRES_URL)');
}

export function terminalCommand(): Command {
  const terminal = new Command('terminal').description('provision POS terminals of a store (bearer tokens for the ingest API)');

  withTerminalOptions(terminal.command('add').description('issue a token for a terminal and print it once; re-adding a terminal rotates its token'))
    .option('--json', 'print {storeId, terminalId, token} as JSON')
    .action(async (opts: { store: string; terminal: string; databaseUrl?: string; json?: boolean }) => {
      const token = await withStoreDb(opts.store, opts.databaseUrl, (pool) => issueTerminalToken(pool, { storeId: opts.store, terminalId: opts.terminal }));
      if (opts.json) {
        console.log(JSON.stringify({ storeId: opts.store, terminalId: opts.terminal, token }));
      } else {
        console.log(`terminal ${opts.terminal} of store ${opts.store}: token (shown once, store it in the terminal now):`);
        console.log(token);
      }
    });

  withTerminalOptions(terminal.command('revoke').description('revoke every token of a terminal (takes effect within 5 seconds)'))
    .action(async (opts: { store: string; terminal: string; databaseUrl?: string }) => {
      const revoked = await withStoreDb(opts.store, opts.databaseUrl, (pool) => revokeTerminal(pool, { storeId: opts.store, terminalId: opts.terminal }));
      if (revoked === 0) throw new Error(`terminal ${opts.terminal} of store ${opts.store} has no live token`);
      console.log(`revoked ${revoked} token(s) of terminal ${opts.terminal} of store ${opts.store}`);
    });

  withTerminalOptions(terminal.command('list').description("list a store's terminals and whether their tokens are live"), true)
    .action(async (opts: { store: string; databaseUrl?: string }) => {
      const rows = await withStoreDb(opts.store, opts.databaseUrl, (pool) => listTerminals(pool, opts.store));
      for (const r of rows) console.log(`${r.terminalId}\t${r.revokedAt ? `revoked ${r.revokedAt.toISOString()}` : 'live'}\tissued ${r.createdAt.toISOString()}`);
      if (rows.length === 0) console.log(`no terminals for store ${opts.store}`);
    });

  return terminal;
}
