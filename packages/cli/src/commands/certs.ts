import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ensureCa, issueCertificate, readKeyPair, writeKeyPair, type IssuedCertificate, type KeyPairPem, type PemFiles } from '@tillstream/certs';
import { Identifier } from '@tillstream/contracts';
import { cliEnv } from '../env.ts';

/**
 * Where `tillstream certs` keeps a chain's certificates (CERTS_DIR, default ./certs):
 *   ca/ca.crt, ca/ca.key          the chain CA (key 0600, directory 0700)
 *   servers/<name>.crt, .key      HTTPS server certificates (TLS_CERT_FILE / TLS_KEY_FILE)
 *   stores/<store>.crt, .key      store client certificates for HQ (HQ_CLIENT_CERT_FILE / HQ_CLIENT_KEY_FILE)
 */
export const certsLayout = (dir: string) => ({
  caDir: join(dir, 'ca'),
  caFiles: { certFile: join(dir, 'ca', 'ca.crt'), keyFile: join(dir, 'ca', 'ca.key') },
  serversDir: join(dir, 'servers'),
  storesDir: join(dir, 'stores'),
});

export const CA_COMMON_NAME = 'Tillstream chain CA';

/** The chain CA `tillstream certs` made in `dir`; a clear error when there is none (a CA made here now would be one HQ does not trust). */
export async function readChainCa(dir: string): Promise<KeyPairPem & PemFiles> {
  const { caFiles } = certsLayout(dir);
  try {
    return { ...(await readKeyPair(caFiles)), ...caFiles };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new Error(`no chain CA in ${resolve(dir, 'ca')}: run \`npx tillstream certs --dir ${dir}\` first (or pass --certs-dir)`);
  }
}

/** A store's client certificate (CN = store id, OU = store), signed by the chain CA, written to stores/<id>.crt and .key (0600). */
export async function issueStoreCertificate(dir: string, storeId: string, ca?: KeyPairPem): Promise<IssuedCertificate & PemFiles> {
  const certificate = await issueCertificate(ca ?? (await readChainCa(dir)), { commonName: storeId, usage: 'client', organizationalUnit: 'store' });
  return { ...certificate, ...(await writeKeyPair(certsLayout(dir).storesDir, storeId, certificate)) };
}

export interface ChainCertificates {
  ca: PemFiles;
  servers: Record<string, IssuedCertificate & PemFiles>;
  stores: Record<string, IssuedCertificate & PemFiles>;
}

/** The CA (created on first use, kept afterwards), then a server certificate per name and a client certificate per store. */
export async function makeChainCertificates(dir: string, options: { servers: Record<string, string[]>; stores: string[] }): Promise<ChainCertificates> {
  const layout = certsLayout(dir);
  const ca = await ensureCa(layout.caDir, CA_COMMON_NAME);
  const servers: ChainCertificates['servers'] = {};
  for (const [name, hosts] of Object.entries(options.servers)) {
    const certificate = await issueCertificate(ca, { commonName: hosts[0]!, usage: 'server', hosts });
    servers[name] = { ...certificate, ...(await writeKeyPair(layout.serversDir, name, certificate)) };
  }
  const stores: ChainCertificates['stores'] = {};
  for (const storeId of options.stores) stores[storeId] = await issueStoreCertificate(dir, storeId, ca);
  return { ca: { certFile: ca.certFile, keyFile: ca.keyFile }, servers, stores };
}

function serverSpec(value: string, previous: Record<string, string[]> | undefined): Record<string, string[]> {
  const match = /^([a-z0-9][a-z0-9_-]{0,31})=(.+)$/i.exec(value);
  if (!match) throw new InvalidArgumentError('--server takes name=host[,host...], e.g. store=ingest,inventory,localhost,127.0.0.1');
  const hosts = match[2]!.split(',').map((h) => h.trim()).filter(Boolean);
  return { ...(previous ?? {}), [match[1]!]: hosts };
}

function storeList(value: string): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) if (!Identifier.safeParse(id).success) throw new InvalidArgumentError(`store "${id}" is not a valid store id`);
  return ids;
}

export function certsCommand(): Command {
  return new Command('certs')
    .description(
      'create the chain CA (once; kept afterwards), HTTPS server certificates and per-store client certificates ' +
        'for a demo or a small chain, in --dir (private keys 0600). A larger chain uses its own PKI and sets the same variables.',
    )
    .option('--dir <dir>', 'where the certificates go (ca/, servers/, stores/)', cliEnv.CERTS_DIR)
    .option('--server <name=hosts>', 'a server certificate servers/<name>.crt for these DNS names and IPs (repeatable)', serverSpec)
    .option('--stores <ids>', 'comma-separated store ids: a client certificate stores/<id>.crt each', storeList, [])
    .option('--json', 'print what was written as JSON')
    .action(async (opts: { dir: string; server?: Record<string, string[]>; stores: string[]; json?: boolean }) => {
      const servers = opts.server ?? { server: ['localhost', '127.0.0.1', '::1'] };
      const made = await makeChainCertificates(opts.dir, { servers, stores: opts.stores });
      if (opts.json) {
        const files = (m: Record<string, IssuedCertificate & PemFiles>) =>
          Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { certFile: v.certFile, keyFile: v.keyFile, serial: v.serial, notAfter: v.notAfter.toISOString() }]));
        console.log(JSON.stringify({ ca: made.ca, servers: files(made.servers), stores: files(made.stores) }));
        return;
      }
      console.log(`chain CA        ${made.ca.certFile}  (key ${made.ca.keyFile}: keep it off the servers)`);
      for (const [name, c] of Object.entries(made.servers)) console.log(`server ${name.padEnd(8)} ${c.certFile}  for ${servers[name]!.join(', ')}  until ${c.notAfter.toISOString().slice(0, 10)}`);
      for (const [id, c] of Object.entries(made.stores)) console.log(`store ${id.padEnd(9)} ${c.certFile}  serial ${c.serial}  until ${c.notAfter.toISOString().slice(0, 10)}`);
    });
}
