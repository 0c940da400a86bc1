import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate, writeKeyPair, type KeyPairPem } from '@tillstream/certs';
import { listen, type Listening } from './app.ts';
import { clientCertificate, isLoopback, listenOptionsFromFiles } from './tls.ts';

/** One GET; resolves with the status, or rejects as the client saw the connection fail. */
function get(url: string, options: { ca?: string; cert?: string; key?: string } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { ...options, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS listeners', () => {
  let ca: KeyPairPem;
  let server: KeyPairPem;
  let dir: string;
  const app = express();
  app.get('/who', (req, res) => {
    res.json({ secure: req.secure, peer: clientCertificate(req.socket) ?? null });
  });
  const open: Listening[] = [];

  beforeAll(async () => {
    ca = await createCa({ commonName: 'listener test CA' });
    server = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', hosts: ['localhost', '127.0.0.1'] });
    dir = await mkdtemp(join(tmpdir(), 'tillstream-tls-test-'));
  });
  afterAll(async () => {
    for (const l of open) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to serve plain HTTP on a non-loopback address unless the operator opts out', async () => {
    await expect(listen(app, '0.0.0.0', 0)).rejects.toThrow(/refusing to serve plain HTTP on 0\.0\.0\.0/);
    const optedOut = await listen(app, '0.0.0.0', 0, { allowPlainHttp: true });
    open.push(optedOut);
    expect(optedOut.url).toMatch(/^http:\/\//);
    const loopback = await listen(app, '127.0.0.1', 0);
    open.push(loopback);
    expect((await get(`${loopback.url}/who`)).status).toBe(200);
  });

  it('serves HTTPS on a non-loopback bind, and a plain-HTTP client gets no answer there', async () => {
    const files = await writeKeyPair(dir, 'server', server);
    const options = listenOptionsFromFiles({ TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile });
    const secure = await listen(app, '0.0.0.0', 0, options);
    open.push(secure);
    expect(secure.url).toMatch(/^https:\/\//);
    const port = new URL(secure.url).port;
    const answer = await get(`https://127.0.0.1:${port}/who`, { ca: ca.cert });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ secure: true, peer: null });
    // The same port spoken to in clear text: the TLS server never answers HTTP.
    await expect(get(`http://127.0.0.1:${port}/who`)).rejects.toThrow();
    // A client that does not trust the chain CA refuses the server.
    await expect(get(`https://127.0.0.1:${port}/who`, { ca: (await createCa({ commonName: 'another CA' })).cert })).rejects.toThrow(/self[- ]signed|unable to verify|unknown ca/i);
  });

  it('asks for a client certificate with TLS_CLIENT_CA_FILE and reports how it was judged', async () => {
    const files = await writeKeyPair(dir, 'server2', server);
    const caFiles = await writeKeyPair(dir, 'ca', ca);
    const l = await listen(app, '127.0.0.1', 0, listenOptionsFromFiles({ TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile, TLS_CLIENT_CA_FILE: caFiles.certFile }));
    open.push(l);
    const store = await issueCertificate(ca, { commonName: 'S001', usage: 'client', organizationalUnit: 'store' });
    const forged = await issueCertificate(await createCa({ commonName: 'forger' }), { commonName: 'S001', usage: 'client', organizationalUnit: 'store' });
    const who = async (client: KeyPairPem | undefined) => JSON.parse((await get(`${l.url}/who`, { ca: ca.cert, ...(client ?? {}) })).body) as { peer: Record<string, unknown> | null };
    expect((await who(store)).peer).toEqual({ authorized: true, error: undefined, commonName: 'S001', organizationalUnit: 'store', serial: store.serial });
    expect((await who(forged)).peer).toMatchObject({ authorized: false, commonName: 'S001' });
    expect((await who(undefined)).peer).toBeNull();
  });

  it('refuses half a TLS configuration at start', () => {
    expect(() => listenOptionsFromFiles({ TLS_CERT_FILE: '/x.crt' })).toThrow(/both TLS_CERT_FILE and TLS_KEY_FILE/);
    expect(() => listenOptionsFromFiles({ TLS_CLIENT_CA_FILE: '/ca.crt' })).toThrow(/TLS_CLIENT_CA_FILE needs/);
    expect(() => listenOptionsFromFiles({ TLS_CERT_FILE: '/nonexistent.crt', TLS_KEY_FILE: '/nonexistent.key' })).toThrow(/TLS_CERT_FILE=\/nonexistent\.crt/);
  });
});

describe('isLoopback', () => {
  it('is true only for addresses no other machine reaches', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.10', 'store.example', '128.0.0.1', '::ffff:10.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });
});
