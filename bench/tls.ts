import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { createCa, issueCertificate, writeKeyPair, type KeyPairPem, type PemFiles } from '@tillstream/certs';

export interface BenchTls {
  caFile: string;
  /** The CA itself, to issue many store certificates in memory (the chain bench). */
  ca: KeyPairPem;
  /** TLS_CERT_FILE / TLS_KEY_FILE of a server on 127.0.0.1. */
  server: PemFiles;
  /** A store's client certificate (HQ_CLIENT_CERT_FILE / HQ_CLIENT_KEY_FILE), and the pair itself. */
  storeClient(storeId: string): Promise<PemFiles & KeyPairPem>;
  /** fetch presenting `client` (HQ's store routes require it). */
  fetchAs(client: KeyPairPem): typeof fetch;
  /** Puts back the global dispatcher and removes the files. */
  close(): Promise<void>;
}

/**
 * A throwaway chain CA for one benchmark run (services serve HTTPS as in
 * production): a server certificate for 127.0.0.1, store client
 * certificates on demand, and this process's fetch trusting the CA (the
 * readiness checks of startProcess) until close().
 */
export async function benchTls(): Promise<BenchTls> {
  const dir = await mkdtemp(join(tmpdir(), 'tillstream-bench-tls-'));
  const ca = await createCa({ commonName: 'bench CA' });
  const caFiles = await writeKeyPair(dir, 'ca', ca);
  const server = await writeKeyPair(dir, 'server', await issueCertificate(ca, { commonName: 'localhost', usage: 'server', hosts: ['127.0.0.1', 'localhost'] }));
  const previous = getGlobalDispatcher();
  setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, ca.cert] } }));
  const agents: Agent[] = [];
  return {
    caFile: caFiles.certFile,
    ca,
    server,
    storeClient: async (storeId) => {
      const pair = await issueCertificate(ca, { commonName: storeId, usage: 'client', organizationalUnit: 'store' });
      return { ...pair, ...(await writeKeyPair(dir, `store-${storeId}`, pair)) };
    },
    fetchAs: (client) => {
      const dispatcher = new Agent({ connect: { ca: ca.cert, cert: client.cert, key: client.key } });
      agents.push(dispatcher);
      // undici's fetch is the implementation behind Node's own: the same Request/Response contract.
      return ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
    },
    close: async () => {
      setGlobalDispatcher(previous);
      await Promise.all(agents.map((a) => a.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment of an HQ process in a bench: its cluster's client settings
 * (`serviceEnv('hq')`), its topic prefix, database and port, HTTPS with
 * mutual TLS from `tls`, and warnings only in its log. `extra` adds or
 * overrides (HQ_ROLES, OFFLINE_AFTER_SECONDS, ...).
 */
export function benchHqEnv(
  tls: BenchTls,
  options: { kafkaEnv: Record<string, string>; prefix: string; databaseUrl: string; port: number },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...options.kafkaEnv,
    HQ_TOPIC_PREFIX: options.prefix,
    DATABASE_URL: options.databaseUrl,
    PORT: String(options.port),
    LOG_LEVEL: 'warn',
    TLS_CERT_FILE: tls.server.certFile,
    TLS_KEY_FILE: tls.server.keyFile,
    TLS_CLIENT_CA_FILE: tls.caFile,
    ...extra,
  };
}
