import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { onTestFinished } from 'vitest';
import type { KeyPairPem } from '@tillstream/certs';
import { testStoreCertificate, testTlsFiles } from './tls.ts';

/**
 * What the proxy does with a request: forward it (`pass`), drop the
 * connection as a dead host would (`down`), or answer this status itself as
 * problem+json with `Retry-After: 1` (an overloaded or rate-limiting peer).
 */
export type HttpProxyMode = 'pass' | 'down' | 429 | 503;

export interface HttpProxy {
  readonly url: string;
  mode: HttpProxyMode;
  /** Requests that arrived in each mode. */
  readonly seen: Map<HttpProxyMode, number>;
  /** Requests the upstream answered 2xx, by their `label` (default "METHOD /path"). */
  answered(label: string): number;
}

/**
 * An HTTP proxy in front of a real service (HQ, for a store's sync), for
 * fault injection and for counting what crosses the link. Starts in
 * `options.mode` (default `pass`); closed when the test ends. `target` is
 * read per request, so the service behind it may restart on another port.
 */
export async function httpProxy(options: { target: () => string | undefined; mode?: HttpProxyMode; label?: (req: IncomingMessage) => string }): Promise<HttpProxy> {
  const label = options.label ?? ((req: IncomingMessage) => `${req.method} ${(req.url ?? '').split('?')[0]}`);
  const answered = new Map<string, number>();
  const state = { mode: options.mode ?? 'pass', seen: new Map<HttpProxyMode, number>() };
  // Over TLS like the link it stands in for: HTTPS with the run's server certificate, asking the
  // client (a store's sync) for its certificate. HQ upstream wants the store's client certificate:
  // the proxy presents one the run's CA issues for the same subject (a store CN, OU=store), so HQ
  // still decides on the identity the store presented; a client without one is forwarded without.
  const files = testTlsFiles();
  const minted = new Map<string, Promise<KeyPairPem>>();
  const identityOf = (req: IncomingMessage): Promise<KeyPairPem> | undefined => {
    const socket = req.socket as Partial<TLSSocket>;
    if (!socket.authorized || typeof socket.getPeerCertificate !== 'function') return undefined;
    const subject = socket.getPeerCertificate().subject;
    const cn = [subject?.CN].flat()[0];
    if (!cn) return undefined;
    const ou = [subject?.OU].flat()[0];
    const key = `${ou ?? ''}/${cn}`;
    if (!minted.has(key)) minted.set(key, testStoreCertificate(cn, ou ? { organizationalUnit: ou } : {}));
    return minted.get(key);
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const mode = state.mode;
    state.seen.set(mode, (state.seen.get(mode) ?? 0) + 1);
    const upstream = options.target();
    if (mode === 'down' || !upstream) {
      req.socket.destroy();
      return;
    }
    if (mode !== 'pass') {
      res.writeHead(mode, { 'retry-after': '1', 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ status: mode, code: mode === 429 ? 'RATE_LIMITED' : 'OVERLOADED' }));
      return;
    }
    const u = new URL(upstream);
    const what = label(req);
    const send = (identity: KeyPairPem | undefined) => {
      const options = { host: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers };
      const onAnswer = (up: IncomingMessage) => {
        if ((up.statusCode ?? 500) < 300) answered.set(what, (answered.get(what) ?? 0) + 1);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      };
      const forward = u.protocol === 'https:' ? httpsRequest({ ...options, ...(identity ?? {}) }, onAnswer) : httpRequest(options, onAnswer);
      forward.on('error', () => req.socket.destroy());
      req.pipe(forward);
    };
    const identity = identityOf(req);
    if (identity) identity.then(send, () => req.socket.destroy());
    else send(undefined);
  };
  const server = createHttpsServer(
    { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), ca: readFileSync(files.caFile), requestCert: true, rejectUnauthorized: false },
    handler,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return Object.assign(state, {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answered: (what: string) => answered.get(what) ?? 0,
  });
}
