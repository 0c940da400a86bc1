import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

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
  const server: Server = createServer((req, res) => {
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
    const forward = httpRequest({ host: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      if ((up.statusCode ?? 500) < 300) answered.set(what, (answered.get(what) ?? 0) + 1);
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answered: (what: string) => answered.get(what) ?? 0,
  });
}
