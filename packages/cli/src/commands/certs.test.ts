import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeCertificate, signedBy } from '@tillstream/certs';
import { findStoreByToken, revokedCertificateSerials } from '@tillstream/db';
import { runTillstream, testDatabase } from '@tillstream/testing';

describe('npx tillstream certs and store add', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('creates one chain CA, server certificates for the names given and store client certificates, keys 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillstream-certs-cli-'));
    dirs.push(dir);
    const first = await runTillstream('certs', '--dir', dir, '--server', 'store=ingest,inventory,localhost,127.0.0.1', '--server', 'hq=hq.example,localhost', '--stores', 'S001,S002', '--json');
    expect(first.code).toBe(0);
    const made = JSON.parse(first.stdout) as {
      ca: { certFile: string; keyFile: string };
      servers: Record<string, { certFile: string; keyFile: string }>;
      stores: Record<string, { certFile: string; keyFile: string; serial: string }>;
    };
    const ca = await readFile(made.ca.certFile, 'utf8');
    expect((await stat(made.ca.keyFile)).mode & 0o777).toBe(0o600);
    const store = await readFile(made.servers.store!.certFile, 'utf8');
    expect(signedBy(store, ca)).toBe(true);
    expect(describeCertificate(store).hosts).toEqual(['ingest', 'inventory', 'localhost', '127.0.0.1']);
    expect(describeCertificate(await readFile(made.servers.hq!.certFile, 'utf8')).hosts).toEqual(['hq.example', 'localhost']);
    for (const id of ['S001', 'S002']) {
      const facts = describeCertificate(await readFile(made.stores[id]!.certFile, 'utf8'));
      expect(facts).toMatchObject({ commonName: id, organizationalUnit: 'store', serial: made.stores[id]!.serial });
      expect((await stat(made.stores[id]!.keyFile)).mode & 0o777).toBe(0o600);
    }
    // Run again: the same CA signs the new certificates (nothing issued before becomes untrusted).
    const again = JSON.parse((await runTillstream('certs', '--dir', dir, '--json')).stdout) as { ca: { certFile: string }; servers: Record<string, { certFile: string }> };
    expect(await readFile(again.ca.certFile, 'utf8')).toBe(ca);
    expect(signedBy(await readFile(again.servers.server!.certFile, 'utf8'), ca)).toBe(true);
  });

  it("store add issues the store's certificate and token, store certificate rotates, store revoke revokes them at HQ", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillstream-certs-cli-'));
    dirs.push(dir);
    const db = await testDatabase({ target: 'hq' });
    const noCa = await runTillstream('store', 'add', '--store', 'S001', '--database-url', db.url, '--certs-dir', dir);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toMatch(/no chain CA in .*run `npx tillstream certs/);
    expect((await runTillstream('certs', '--dir', dir)).code).toBe(0);

    const add = await runTillstream('store', 'add', '--store', 'S001', '--database-url', db.url, '--certs-dir', dir, '--json');
    expect(add.code).toBe(0);
    const issued = JSON.parse(add.stdout) as { token: string; certFile: string; keyFile: string; serial: string };
    expect(await findStoreByToken(db.pool, issued.token)).toBe('S001');
    const cert = await readFile(issued.certFile, 'utf8');
    expect(describeCertificate(cert)).toMatchObject({ commonName: 'S001', organizationalUnit: 'store', serial: issued.serial });
    expect(signedBy(cert, await readFile(join(dir, 'ca', 'ca.crt'), 'utf8'))).toBe(true);
    expect((await stat(issued.keyFile)).mode & 0o777).toBe(0o600);

    const rotated = JSON.parse((await runTillstream('store', 'certificate', '--store', 'S001', '--database-url', db.url, '--certs-dir', dir, '--json')).stdout) as { serial: string };
    expect(rotated.serial).not.toBe(issued.serial);
    expect(await revokedCertificateSerials(db.pool)).toEqual(new Set());
    expect(await findStoreByToken(db.pool, issued.token)).toBe('S001');

    const one = await runTillstream('store', 'revoke', '--store', 'S001', '--serial', issued.serial, '--database-url', db.url);
    expect(one.code).toBe(0);
    expect(await revokedCertificateSerials(db.pool)).toEqual(new Set([issued.serial]));
    const all = await runTillstream('store', 'revoke', '--store', 'S001', '--database-url', db.url);
    expect(all.stdout).toMatch(/1 token\(s\), 1 client certificate\(s\)/);
    expect(await revokedCertificateSerials(db.pool)).toEqual(new Set([issued.serial, rotated.serial]));
    expect(await findStoreByToken(db.pool, issued.token)).toBeUndefined();
  });
});
