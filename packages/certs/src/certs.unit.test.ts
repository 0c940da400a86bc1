import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa, describeCertificate, ensureCa, issueCertificate, signedBy, writeKeyPair, type KeyPairPem } from './index.ts';

/** One TLS handshake between a server holding `server` and a client trusting `trust`, optionally presenting `client`. */
async function handshake(options: { server: KeyPairPem; serverCa: string; trust: string; client?: KeyPairPem; servername?: string }) {
  const server = createServer({ cert: options.server.cert, key: options.server.key, ca: options.serverCa, requestCert: true, rejectUnauthorized: false }, (socket) => {
    socket.end(JSON.stringify({ authorized: socket.authorized, peer: socket.getPeerCertificate().subject?.CN ?? null }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca: options.trust, servername: options.servername ?? 'localhost', ...(options.client ?? {}) });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve, reject) => {
      socket.once('end', resolve);
      socket.once('error', reject);
    });
    return JSON.parse(Buffer.concat(chunks).toString()) as { authorized: boolean; peer: string | null };
  } finally {
    server.close();
  }
}

describe('certificates', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a server certificate from the chain CA is trusted by a client holding the CA, and a store client certificate is verified with its subject', async () => {
    const ca = await createCa({ commonName: 'Test chain CA' });
    const server = await issueCertificate(ca, { commonName: 'hq.example', usage: 'server', hosts: ['localhost', '127.0.0.1'] });
    const store = await issueCertificate(ca, { commonName: 's001', usage: 'client', organizationalUnit: 'store' });
    expect(signedBy(server.cert, ca.cert)).toBe(true);
    expect(describeCertificate(server.cert).hosts).toEqual(['localhost', '127.0.0.1']);
    expect(describeCertificate(store.cert)).toMatchObject({ commonName: 's001', organizationalUnit: 'store', serial: store.serial });
    expect(await handshake({ server, serverCa: ca.cert, trust: ca.cert, client: store })).toEqual({ authorized: true, peer: 's001' });
  });

  it('refuses a server from another CA, and marks unauthorized a client certificate from another CA or already expired', async () => {
    const ca = await createCa({ commonName: 'Test chain CA' });
    const other = await createCa({ commonName: 'Someone else' });
    const server = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', hosts: ['localhost'] });
    const stranger = await issueCertificate(other, { commonName: 'localhost', usage: 'server', hosts: ['localhost'] });
    await expect(handshake({ server: stranger, serverCa: ca.cert, trust: ca.cert })).rejects.toThrow(/self[- ]signed|unable to verify|unknown ca/i);
    const forged = await issueCertificate(other, { commonName: 's001', usage: 'client' });
    expect(await handshake({ server, serverCa: ca.cert, trust: ca.cert, client: forged })).toMatchObject({ authorized: false });
    const expired = await issueCertificate(ca, { commonName: 's001', usage: 'client', validDays: 1, now: new Date(Date.now() - 3 * 86_400_000) });
    expect(await handshake({ server, serverCa: ca.cert, trust: ca.cert, client: expired })).toMatchObject({ authorized: false });
  });

  it('writes private keys readable by their owner only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillstream-certs-'));
    dirs.push(dir);
    const ca = await createCa({ commonName: 'Test chain CA' });
    const files = await writeKeyPair(join(dir, 'ca'), 'ca', ca);
    expect((await stat(files.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'ca'))).mode & 0o777).toBe(0o700);
  });

  it('a server certificate without a host is refused rather than issued unusable', async () => {
    const ca = await createCa({ commonName: 'Test chain CA' });
    await expect(issueCertificate(ca, { commonName: 'x', usage: 'server' })).rejects.toThrow(/host/);
  });
});

describe('ensureCa', () => {
  it('creates the CA once and returns the same one afterwards', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillstream-certs-'));
    try {
      const first = await ensureCa(join(dir, 'pki'), 'Local CA');
      const second = await ensureCa(join(dir, 'pki'), 'Local CA');
      expect(second.cert).toBe(first.cert);
      expect(describeCertificate(first.cert).commonName).toBe('Local CA');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives callers that race on an empty directory one CA (the two local brokers start side by side)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillstream-certs-'));
    try {
      const cas = await Promise.all([1, 2, 3].map(() => ensureCa(join(dir, 'pki'), 'Local CA')));
      const onDisk = await ensureCa(join(dir, 'pki'), 'Local CA');
      for (const ca of cas) expect(ca.cert).toBe(onDisk.cert);
      expect((await readdir(join(dir, 'pki'))).sort()).toEqual(['ca.crt', 'ca.key']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
