import { issueCertificate, type KeyPairPem } from '@tillstream/certs';
import { issueStoreTokens, recordStoreCertificates, type Queryable } from '@tillstream/db';
import type { ChainStore } from './chain.ts';

/** Store ids of a simulated chain: <prefix>0001, <prefix>0002, ... */
export function chainStoreIds(count: number, prefix = 'C'): string[] {
  const width = Math.max(4, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

export interface ProvisionChainOptions {
  /** HQ's database (as its administrator, as `tillstream store add`). */
  db: Queryable;
  /** The chain CA HQ's TLS_CLIENT_CA_FILE trusts. */
  ca: KeyPairPem;
  storeIds: readonly string[];
  /** PEM CA HQ's server certificate chains to (default: the chain CA). */
  serverCa?: string;
}

/**
 * Makes each store a real HQ identity, as `tillstream store add` does, but
 * for many at once: a client certificate per store (CN = store id, OU =
 * store, from the chain CA, kept in memory) with its serial recorded at HQ,
 * and a token, each kind in one statement.
 */
export async function provisionChain(options: ProvisionChainOptions): Promise<ChainStore[]> {
  const certificates = await Promise.all(options.storeIds.map((storeId) => issueCertificate(options.ca, { commonName: storeId, usage: 'client', organizationalUnit: 'store' })));
  await recordStoreCertificates(options.db, certificates.map((c, i) => ({ storeId: options.storeIds[i]!, serial: c.serial, notAfter: c.notAfter })));
  const tokens = await issueStoreTokens(options.db, options.storeIds);
  return options.storeIds.map((storeId, i) => ({
    storeId,
    token: tokens.get(storeId)!,
    tls: { cert: certificates[i]!.cert, key: certificates[i]!.key, ca: options.serverCa ?? options.ca.cert },
  }));
}
