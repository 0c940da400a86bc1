import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, type KeyPairPem } from './certs.ts';

/** Where a certificate and its key live on disk. */
export interface PemFiles {
  certFile: string;
  keyFile: string;
}

/**
 * Writes `<name>.crt` (0644) and `<name>.key` (0600: only the owning user may
 * read a private key) into `dir`, created 0700 if missing. The key is written
 * with its final mode from the first byte, never readable by others for a
 * moment.
 */
export async function writeKeyPair(dir: string, name: string, pair: KeyPairPem): Promise<PemFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await writeFile(files.keyFile, pair.key, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file: an existing key keeps a wider mode otherwise.
  await chmod(files.keyFile, 0o600);
  await writeFile(files.certFile, pair.cert, { mode: 0o644 });
  return files;
}

export async function readKeyPair(files: PemFiles): Promise<KeyPairPem> {
  const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  return { cert, key };
}

/**
 * The CA kept in `dir` (`ca.crt`, `ca.key`), created on first use: the local
 * infrastructure, the demo and a test run each keep one, and every
 * certificate they need (Kafka's listener, HTTPS listeners, store client
 * certificates) is issued from it.
 */
export async function ensureCa(dir: string, commonName: string): Promise<KeyPairPem & PemFiles> {
  const files = { certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
  const existing = await readKeyPair(files).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing) return { ...existing, ...files };
  const ca = await createCa({ commonName });
  await writeKeyPair(dir, 'ca', ca);
  return { cert: ca.cert, key: ca.key, ...files };
}
