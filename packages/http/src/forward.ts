import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Router, type RequestHandler } from 'express';
import type { Guard } from './auth.ts';
import { sendContinue } from './edge.ts';
import { HttpProblem, sendProblem } from './problem.ts';
import { requestIdOf } from './request-log.ts';

/**
 * Headers that belong to one connection, not to the message (RFC 9110 §7.6.1); never passed on.
 * `expect` too: this front answers a client's `Expect: 100-continue` itself (sendContinue) and streams the body on.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  return out;
}

export interface ForwardOptions {
  /** The paths this front hands on, e.g. '/v1/sales' (the path itself and everything under it). */
  prefix: string;
  /**
   * The service behind them, e.g. https://127.0.0.1:8082. An https target's
   * certificate is verified against Node's trusted CAs, to which the chain CA
   * is added with NODE_EXTRA_CA_CERTS (see docs/security.md, "HTTPS").
   */
  target: string;
  /** Its name in problem details ("the trends service"). */
  name: string;
  /**
   * Who may pass (an \`allow\` guard), checked here before anything is
   * forwarded, and again by the service behind on its own port (it sees the
   * same credential: Authorization and Cookie pass through).
   */
  guard: Guard;
  /** How long the service may take to begin its answer. Default 10 s. */
  timeoutMs?: number;
}

/**
 * One front for several services (the store API on 8081 answers
 * /v1/inventory itself and hands /v1/sales and /v1/sync to the services that
 * own them): the request streams through unchanged, method, path, query,
 * body and all, and the answer streams back with its status and headers. A
 * service that does not answer gives 503 UPSTREAM_UNAVAILABLE with
 * Retry-After, never a hung request or a 500.
 */
export function forward(options: ForwardOptions): Router {
  const target = new URL(options.target);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const secure = target.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new Agent({ keepAlive: true, maxSockets: 64 });
  const request = secure ? httpsRequest : httpRequest;
  const router = Router();
  const pass: RequestHandler = (req, res) => {
    res.locals.route = `${options.prefix}/*`; // its label in http_requests_total: bounded, and says where it went
    const unavailable = (detail: string) => {
      if (res.destroyed || res.writableEnded) return;
      if (res.headersSent) res.destroy();
      else sendProblem(res, new HttpProblem('UPSTREAM_UNAVAILABLE', `${options.name} ${detail}; retry later`, { retryAfterSeconds: 1 }), req);
    };
    const upstream = request(
      {
        agent,
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.originalUrl,
        headers: {
          ...endToEnd(req.headers),
          // The service behind names the request as this front did (it may have made the id itself).
          ...(requestIdOf(req) ? { 'x-request-id': requestIdOf(req) } : {}),
          host: target.host,
          'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', '),
          'x-forwarded-host': req.headers.host ?? '',
        },
        timeout: timeoutMs,
      },
      (answer) => {
        res.status(answer.statusCode ?? 502);
        for (const [name, value] of Object.entries(endToEnd(answer.headers))) if (value !== undefined) res.setHeader(name, value);
        // A service that refused a body without reading it closes its connection; so does this front,
        // or it would read the rest of that body for nobody.
        if (/\bclose\b/i.test(answer.headers.connection ?? '') && !req.complete) res.setHeader('connection', 'close');
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    // Node holds a request's head until its first body chunk: a client that sends its head and
    // waits (Expect: 100-continue, or a body the service will refuse by its declared length) would
    // leave the service without a request to answer, and this front waiting for its timeout.
    upstream.flushHeaders();
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    upstream.on('error', (err) => unavailable(err.message === 'timeout' ? `did not answer within ${timeoutMs} ms` : 'does not answer'));
    // A client that goes away takes its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    sendContinue(req, res);
    req.pipe(upstream);
  };
  // One handler, guard first, carrying the guard's owner: listRoutes reports a prefix mount by its handler.
  const guarded: RequestHandler = (req, res, next) => {
    void options.guard(req, res, (err?: unknown) => (err ? next(err) : void pass(req, res, next)));
  };
  router.use(options.prefix, Object.assign(guarded, { owner: options.guard.owner }));
  return router;
}
