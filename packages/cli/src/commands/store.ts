import { Command } from 'commander';
import { Identifier } from '@tillstream/contracts';
import { createPool, databaseUrl, issueStoreToken, migrate, revokeStore } from '@tillstream/db';
import { createLogger } from '@tillstream/observability';
import { cliEnv } from '../env.ts';

export async function withHqDb<T>(explicit: string | undefined, fn: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const logger = createLogger({ name: 'cli', level: 'warn' });
  const connectionString = explicit ?? cliEnv.HQ_DATABASE_URL ?? databaseUrl(cliEnv.POSTGRES_URL, 'tillstream_hq');
  await migrate({ databaseUrl: connectionString, target: 'hq', logger });
  const pool = createPool({ connectionString, logger, applicationName: 'tillstream-cli', max: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

function storeId(value: string): string {
  const parsed = Identifier.safeParse(value);
  if (!parsed.success) throw new Error(`store "${value}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return value;
}

export function storeCommand(): Command {
  const store = new Command('store').description("provision stores at HQ (the credential a store's sync service uploads with)");
  store
    .command('add')
    .description('issue an HQ credential for a store and print it once; re-adding a store rotates it')
    .requiredOption('--store <id>', 'store id', storeId)
    .option('--database-url <url>', "HQ's database (default: HQ_DATABASE_URL, else tillstream_hq on POSTGRES_URL)")
    .option('--json', 'print {storeId, token} as JSON')
    .action(async (opts: { store: string; databaseUrl?: string; json?: boolean }) => {
      const token = await withHqDb(opts.databaseUrl, (pool) => issueStoreToken(pool, opts.store));
      if (opts.json) console.log(JSON.stringify({ storeId: opts.store, token }));
      else {
        console.log(`store ${opts.store}: HQ credential (shown once; set it as HQ_TOKEN of the store's sync service):`);
        console.log(token);
      }
    });
  store
    .command('revoke')
    .description("revoke a store's HQ credential (takes effect within 5 seconds)")
    .requiredOption('--store <id>', 'store id', storeId)
    .option('--database-url <url>', "HQ's database")
    .action(async (opts: { store: string; databaseUrl?: string }) => {
      const revoked = await withHqDb(opts.databaseUrl, (pool) => revokeStore(pool, opts.store));
      if (revoked === 0) throw new Error(`store ${opts.store} has no live credential`);
      console.log(`revoked the HQ credential of store ${opts.store}`);
    });
  return store;
}
