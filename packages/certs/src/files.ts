import { chmod, link, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
export function ensureCa(dir: string, commonName: string): Promise<KeyPairPem & PemFiles> {
  // One creation per directory at a time in this process (the local brokers start side by side and
  // both ask for the CA); across processes the exclusive link below decides.
  const key = resolve(dir);
  let pending = creating.get(key);
  if (!pending) {
    pending = ensureCaOnce(dir, commonName).finally(() => creating.delete(key));
    creating.set(key, pending);
  }
  return pending;
}

const creating = new Map<string, Promise<KeyPairPem & PemFiles>>();

async function ensureCaOnce(dir: string, commonName: string): Promise<KeyPairPem & PemFiles> {
  const files = { certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
  const existing = await readCa(files);
  if (existing) return { ...existing, ...files };
  const ca = await createCa({ commonName });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(join(dir, '.ca-'));
  try {
    const staged = await writeKeyPair(staging, 'ca', ca);
    try {
      // link() fails if the key exists: the process whose key lands first owns the CA, and a
      // certificate issued by a CA that lost the race can never be written.
      await link(staged.keyFile, files.keyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return { ...(await waitForCa(files)), ...files };
    }
    await rename(staged.certFile, files.certFile);
    return { cert: ca.cert, key: ca.key, ...files };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function readCa(files: PemFiles): Promise<KeyPairPem | undefined> {
  return readKeyPair(files).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

/** The CA another process is writing: its key is there, its certificate follows within moments. */
async function waitForCa(files: PemFiles, timeoutMs = 10_000): Promise<KeyPairPem> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ca = await readCa(files);
    if (ca) return ca;
    if (Date.now() > deadline) throw new Error(`${files.keyFile} exists without ${files.certFile}: a CA creation was interrupted; remove both and retry`);
    await new Promise((done) => setTimeout(done, 50));
  }
}
