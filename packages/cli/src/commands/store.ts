import { Command, InvalidArgumentError } from 'commander';
import { Identifier } from '@tillstream/contracts';
import { createPool, databaseUrl, issueStoreToken, migrate, recordStoreCertificate, revokeStore, revokeStoreCertificates } from '@tillstream/db';
import { createLogger } from '@tillstream/observability';
import { cliEnv } from '../env.ts';
import { issueStoreCertificate } from './certs.ts';

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

/** Issues a store's client certificate from the chain CA in `certsDir` and records its serial at HQ (so that revoking the store revokes it). */
async function issueAndRecord(pool: ReturnType<typeof createPool>, certsDir: string, storeId: string) {
  const certificate = await issueStoreCertificate(certsDir, storeId);
  await recordStoreCertificate(pool, { storeId, serial: certificate.serial, notAfter: certificate.notAfter });
  return certificate;
}

export function storeCommand(): Command {
  const store = new Command('store').description("provision stores at HQ (the client certificate and token a store's sync service uploads with)");
  store
    .command('add')
    .description(
      "issue a store's HQ credentials: a client certificate (CN = store id) signed by the chain CA, written to <certs-dir>/stores/<id>.crt and .key, " +
        'and a token printed once. Re-adding a store rotates both; the previous certificate stays valid until it expires or is revoked, so a store switches without downtime.',
    )
    .requiredOption('--store <id>', 'store id', storeId)
    .option('--database-url <url>', "HQ's database (default: HQ_DATABASE_URL, else tillstream_hq on POSTGRES_URL)")
    .option('--certs-dir <dir>', 'where `tillstream certs` keeps the chain CA (default: CERTS_DIR, else ./certs)', cliEnv.CERTS_DIR)
    .option('--json', 'print {storeId, token, certFile, keyFile, serial, notAfter} as JSON')
    .action(async (opts: { store: string; databaseUrl?: string; certsDir: string; json?: boolean }) => {
      const { token, certificate } = await withHqDb(opts.databaseUrl, async (pool) => {
        const certificate = await issueAndRecord(pool, opts.certsDir, opts.store);
        return { token: await issueStoreToken(pool, opts.store), certificate };
      });
      const { certFile, keyFile, serial, notAfter } = certificate;
      if (opts.json) console.log(JSON.stringify({ storeId: opts.store, token, certFile, keyFile, serial, notAfter: notAfter.toISOString() }));
      else {
        console.log(`store ${opts.store}: client certificate ${certFile} (serial ${serial}, valid until ${notAfter.toISOString().slice(0, 10)}) and key ${keyFile}:`);
        console.log("  set them as HQ_CLIENT_CERT_FILE and HQ_CLIENT_KEY_FILE of the store's sync service.");
        console.log(`HQ token (shown once; set it as HQ_TOKEN):`);
        console.log(token);
      }
    });
  store
    .command('certificate')
    .description("issue a new client certificate for a store (rotation; its token is unchanged). The old one keeps working until it expires or `store revoke --serial` revokes it.")
    .requiredOption('--store <id>', 'store id', storeId)
    .option('--database-url <url>', "HQ's database")
    .option('--certs-dir <dir>', 'where the chain CA is', cliEnv.CERTS_DIR)
    .option('--json', 'print {storeId, certFile, keyFile, serial, notAfter} as JSON')
    .action(async (opts: { store: string; databaseUrl?: string; certsDir: string; json?: boolean }) => {
      const { certFile, keyFile, serial, notAfter } = await withHqDb(opts.databaseUrl, (pool) => issueAndRecord(pool, opts.certsDir, opts.store));
      if (opts.json) console.log(JSON.stringify({ storeId: opts.store, certFile, keyFile, serial, notAfter: notAfter.toISOString() }));
      else console.log(`store ${opts.store}: new client certificate ${certFile} (serial ${serial}, valid until ${notAfter.toISOString().slice(0, 10)}), key ${keyFile}`);
    });
  store
    .command('revoke')
    .description(
      "revoke a store's HQ credentials: its token and every client certificate issued to it by `store add`, or with --serial one certificate only " +
        '(after a rotation, or one `tillstream certs` made). HQ refuses them within STORE_TOKEN_CACHE_MS (5 seconds by default).',
    )
    .requiredOption('--store <id>', 'store id', storeId)
    .option('--serial <hex>', 'revoke only this client certificate', (v) => {
      if (!/^[0-9A-Fa-f]{2,64}$/.test(v)) throw new InvalidArgumentError('--serial is the hexadecimal serial number (`openssl x509 -noout -serial`)');
      return v.toUpperCase();
    })
    .option('--database-url <url>', "HQ's database")
    .action(async (opts: { store: string; serial?: string; databaseUrl?: string }) => {
      if (opts.serial) {
        const revoked = await withHqDb(opts.databaseUrl, (pool) => revokeStoreCertificates(pool, { storeId: opts.store, serial: opts.serial! }));
        if (revoked === 0) throw new Error(`certificate ${opts.serial} is already revoked`);
        console.log(`revoked client certificate ${opts.serial} of store ${opts.store}`);
        return;
      }
      const { tokens, certificates } = await withHqDb(opts.databaseUrl, async (pool) => ({
        tokens: await revokeStore(pool, opts.store),
        certificates: await revokeStoreCertificates(pool, { storeId: opts.store }),
      }));
      if (tokens + certificates === 0) throw new Error(`store ${opts.store} has no live credential`);
      console.log(`revoked the HQ credentials of store ${opts.store}: ${tokens} token(s), ${certificates} client certificate(s)`);
    });
  return store;
}
