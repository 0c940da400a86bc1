import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { onTestFinished } from 'vitest';
import { issueCertificate, readKeyPair, writeKeyPair, type IssueOptions, type KeyPairPem } from '@tillstream/certs';
import { testEnv } from './env.ts';

/**
 * The test run's TLS material, made once by the global setup (global-setup.ts)
 * in a temp dir laid out as `tillstream certs` does: a CA (ca/ca.crt,
 * ca/ca.key) and a server certificate for localhost/127.0.0.1/::1
 * (servers/server.crt, servers/server.key). The setup also points
 * NODE_EXTRA_CA_CERTS at ca.crt before vitest forks its workers, so fetch,
 * node:https and every process a test starts trust this run's services.
 */
function tlsDir(): string {
  const dir = testEnv.TILLSTREAM_TEST_TLS_DIR;
  if (!dir) throw new Error('TILLSTREAM_TEST_TLS_DIR is not set: run tests through vitest (its global setup makes the test CA)');
  return dir;
}

export const testTlsFiles = () => {
  const dir = tlsDir();
  return {
    /** The directory itself, laid out as `tillstream certs` lays out its --dir. */
    dir,
    caFile: join(dir, 'ca', 'ca.crt'),
    caKeyFile: join(dir, 'ca', 'ca.key'),
    certFile: join(dir, 'servers', 'server.crt'),
    keyFile: join(dir, 'servers', 'server.key'),
  };
};

/** What a service's env needs to listen HTTPS with the run's server certificate. */
export function testTlsEnv(): { TLS_CERT_FILE: string; TLS_KEY_FILE: string } {
  const files = testTlsFiles();
  return { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile };
}

/** HQ's: HTTPS, and store client certificates verified against the run's CA. */
export function testHqTlsEnv(): { TLS_CERT_FILE: string; TLS_KEY_FILE: string; TLS_CLIENT_CA_FILE: string } {
  return { ...testTlsEnv(), TLS_CLIENT_CA_FILE: testTlsFiles().caFile };
}

/** The run's CA (cert and key), to issue certificates a test needs. */
export async function testCa(): Promise<KeyPairPem> {
  const files = testTlsFiles();
  return readKeyPair({ certFile: files.caFile, keyFile: files.caKeyFile });
}

/**
 * A store client certificate from the run's CA (subject CN = storeId,
 * OU = store, as `tillstream store add` issues), written to its own files;
 * `options` changes what is issued (validity, another CA for a forgery).
 */
export async function testStoreCertificate(storeId: string, options: Partial<IssueOptions> & { ca?: KeyPairPem } = {}) {
  const { ca, ...issue } = options;
  const certificate = await issueCertificate(ca ?? (await testCa()), { commonName: storeId, usage: 'client', organizationalUnit: 'store', ...issue });
  const files = await writeKeyPair(join(tlsDir(), 'stores'), `${storeId}-${randomUUID()}`, certificate);
  return { ...certificate, ...files };
}

/** What a store's sync env needs to reach HQ over mutual TLS as `storeId`. */
export async function testStoreClientEnv(storeId: string): Promise<{ HQ_CLIENT_CERT_FILE: string; HQ_CLIENT_KEY_FILE: string }> {
  const cert = await testStoreCertificate(storeId);
  return { HQ_CLIENT_CERT_FILE: cert.certFile, HQ_CLIENT_KEY_FILE: cert.keyFile };
}

/**
 * SHA-256 of the run's server certificate's public key (base64), for
 * Chromium's --ignore-certificate-errors-spki-list: the browser test trusts
 * exactly this key, not any certificate.
 */
export function testServerSpki(): string {
  return spkiOf(testTlsFiles().certFile);
}

/** SHA-256 of a certificate file's public key (base64), as Chromium's --ignore-certificate-errors-spki-list wants it. */
export function spkiOf(certFile: string): string {
  const der = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/**
 * fetch as a store talks to HQ: over mutual TLS with a client certificate the
 * run's CA issued to `storeId` (undici's Agent: Node's global fetch takes no
 * client certificate). For tests that call HQ's store routes themselves.
 */
export async function testStoreFetch(storeId: string): Promise<typeof fetch> {
  const { cert, key } = await testStoreCertificate(storeId);
  const dispatcher = new Agent({ connect: { cert, key } });
  onTestFinished(() => dispatcher.close());
  // undici's fetch is the implementation behind Node's own: the same Request/Response contract.
  return ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
}
