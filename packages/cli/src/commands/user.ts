import { Command, Option } from 'commander';
import { UserRole, siteOf } from '@tillstream/contracts';
import { issueUserToken, listUsers, revokeUser, type Pool } from '@tillstream/db';
import { withHqDb } from './store.ts';
import { identifier, withStoreDb } from './terminal.ts';

const ROLES = UserRole.options;

/** A person's name: what the movement history shows as the actor of what they booked. */
function name(value: string): string {
  if (!/^[\p{L}\p{N}][\p{L}\p{N} ._@-]{0,63}$/u.test(value)) throw new Error(`name "${value}": 1-64 letters, digits, spaces, ".", "_", "@" or "-", starting with a letter or digit`);
  return value;
}

interface Target {
  store?: string;
  databaseUrl?: string;
}

/** Store roles live in the store's database (--store), HQ roles in HQ's. */
function withSiteDb<T>(site: 'store' | 'hq', opts: Target, fn: (pool: Pool) => Promise<T>): Promise<T> {
  if (site === 'hq') return withHqDb(opts.databaseUrl, fn);
  if (!opts.store) throw new Error('store roles need --store <id> (the store whose database holds the token)');
  return withStoreDb(opts.store, opts.databaseUrl, fn);
}

const roleOption = () => new Option('--role <role>', 'what the user may do (see docs/roles.md)').choices(ROLES);

export function userCommand(): Command {
  const user = new Command('user').description("people's tokens: store managers and viewers (a store's database), HQ viewers and admins (HQ's)");

  user
    .command('add')
    .description("issue a token for a person and print it once (only its hash is stored); re-adding a name and role rotates the token")
    .addOption(roleOption().makeOptionMandatory())
    .requiredOption('--name <name>', 'who holds it (shown as the actor of what they book)', name)
    .option('--store <id>', 'the store (store roles)', identifier('store'))
    .option('--database-url <url>', "the database (default: the store's, tillstream_store_<store>, or HQ's, tillstream_hq, on POSTGRES_URL)")
    .option('--json', 'print {name, role, token} as JSON')
    .action(async (opts: Target & { role: UserRole; name: string; json?: boolean }) => {
      const token = await withSiteDb(siteOf(opts.role), opts, (pool) => issueUserToken(pool, { name: opts.name, role: opts.role }));
      if (opts.json) console.log(JSON.stringify({ name: opts.name, role: opts.role, token }));
      else {
        console.log(`${opts.name}, ${opts.role}${opts.store ? ` of store ${opts.store}` : ''}: token (shown once; sign in to the dashboard with it, or send it as "Authorization: Bearer <token>"):`);
        console.log(token);
      }
    });

  user
    .command('revoke')
    .description("revoke a person's tokens and end their dashboard sessions (takes effect within 5 seconds)")
    .addOption(roleOption().makeOptionMandatory())
    .requiredOption('--name <name>', 'who', name)
    .option('--store <id>', 'the store (store roles)', identifier('store'))
    .option('--database-url <url>', 'the database')
    .action(async (opts: Target & { role: UserRole; name: string }) => {
      const revoked = await withSiteDb(siteOf(opts.role), opts, (pool) => revokeUser(pool, opts.name, opts.role));
      if (revoked === 0) throw new Error(`${opts.name} has no live ${opts.role} token`);
      console.log(`revoked ${opts.name}'s ${opts.role} token and every session signed in with it`);
    });

  user
    .command('list')
    .description("list the people of a store (--store) or of HQ (--hq) and whether their tokens are live")
    .option('--store <id>', 'the store', identifier('store'))
    .option('--hq', "HQ's people")
    .option('--database-url <url>', 'the database')
    .action(async (opts: Target & { hq?: boolean }) => {
      const rows = await withSiteDb(opts.hq ? 'hq' : 'store', opts, (pool) => listUsers(pool));
      for (const r of rows) console.log(`${r.name}\t${r.role}\t${r.revokedAt ? `revoked ${r.revokedAt.toISOString()}` : 'live'}\tissued ${r.createdAt.toISOString()}`);
      if (rows.length === 0) console.log('no users');
    });

  return user;
}
