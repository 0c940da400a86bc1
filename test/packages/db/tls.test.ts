import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate, type KeyPairPem } from '@tillstream/certs';
import { testDatabase, testLogger, type TestDatabase } from '@tillstream/testing';
import { createPool } from '@tillstream/db';

/**
 * PostgreSQL with TLS, as a managed or compose server has it: the local test
 * server has ssl=off (and is shared; its configuration is not this test's to
 * change), so a front of this test's own answers PostgreSQL's SSLRequest,
 * terminates TLS with `pair` and passes the bytes on to the real server.
 */
async function tlsFront(target: { host: string; port: number }, pair: KeyPairPem): Promise<{ port: number; close(): Promise<void> }> {
  const context = createSecureContext({ cert: pair.cert, key: pair.key });
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.once('readable', () => {
      // SSLRequest: length 8, code 80877103. Anything else: not a TLS client, refused.
      const request = client.read(8) as Buffer | null;
      if (!request || request.readInt32BE(4) !== 80877103) return client.destroy();
      client.write('S');
      const tls = new TLSSocket(client, { isServer: true, secureContext: context });
      tls.on('error', () => client.destroy());
      const upstream = createConnection(target);
      sockets.add(upstream);
      upstream.on('error', () => tls.destroy());
      upstream.on('close', () => tls.destroy());
      tls.on('close', () => upstream.destroy());
      tls.pipe(upstream).pipe(tls);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('PostgreSQL over TLS, sslmode=verify-full (caFile)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tillstream-pg-tls-'));
  let db: TestDatabase;
  let caFile: string;
  let otherCaFile: string;
  const fronts: Array<{ port: number; close(): Promise<void> }> = [];
  // afterAll called inside beforeAll registers nothing: the database was never dropped (one left per run).
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    db = await testDatabase({ target: 'store', cleanup: (fn) => (dropDatabase = fn) });
    const ca = await createCa({ commonName: 'Tillstream test CA (PostgreSQL TLS)' });
    const other = await createCa({ commonName: 'Someone else' });
    caFile = join(dir, 'ca.crt');
    otherCaFile = join(dir, 'other.crt');
    writeFileSync(caFile, ca.cert);
    writeFileSync(otherCaFile, other.cert);
    const upstream = new URL(db.url);
    const target = { host: upstream.hostname, port: Number(upstream.port || 5432) };
    fronts.push(await tlsFront(target, await issueCertificate(ca, { commonName: '127.0.0.1', usage: 'server', hosts: ['127.0.0.1'] })));
    fronts.push(await tlsFront(target, await issueCertificate(ca, { commonName: 'db.example', usage: 'server', hosts: ['db.example'] })));
  });
  afterAll(async () => {
    for (const f of fronts) await f.close();
    await dropDatabase?.();
  });

  /** Ingest's role through front `port` (or straight to the server), with `ca`. */
  async function query(port: number | undefined, ca: string): Promise<string> {
    const url = new URL(db.urlFor('ingest'));
    if (port !== undefined) url.port = String(port);
    const pool = createPool({ connectionString: url.toString(), logger: testLogger(), applicationName: 'test-tls', max: 1, caFile: ca });
    try {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM ingest_transactions');
      return `rows ${rows[0]!.n}`;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await pool.end();
    }
  }

  it('connects when the certificate is signed by the CA and names the host', async () => {
    expect(await query(fronts[0]!.port, caFile)).toBe('rows 0');
  });

  it('refuses a certificate for another host name, one from another CA, and a server without TLS (never falls back to plaintext)', async () => {
    expect(await query(fronts[1]!.port, caFile)).toMatch(/^Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/);
    // Node 24 appends a hint to the message ("; if the root CA is installed locally, try running Node.js with --use-system-ca").
    expect(await query(fronts[0]!.port, otherCaFile)).toMatch(/^(self[- ]signed certificate in certificate chain|unable to verify the first certificate|unable to get local issuer certificate)(;|$)/);
    expect(await query(undefined, caFile)).toBe('The server does not support SSL connections');
  });
});
