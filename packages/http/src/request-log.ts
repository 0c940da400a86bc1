import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import { RequestId } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';
import { containsCardNumber } from './card-numbers.ts';
import { routeOf } from './metrics.ts';

// pino-http sets these on every request (its own typings augment node's IncomingMessage, which a service
// that never imports pino-http does not see): declared here, on express's Request, for every route handler.
declare module 'express-serve-static-core' {
  interface Request {
    /** This request's child logger: every line carries its requestId. */
    log: Logger;
    /** The request id (the caller's X-Request-Id when it is a safe token, otherwise one made here). */
    id: string | number | object;
  }
}

/** The header a caller may name its request with, and in which every answer names it. */
export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * The caller's request id if it is safe to copy into every log line and
 * Kafka header on the way (a {@link RequestId}: a short token of letters,
 * digits, ".", "-", "_", and no card number even written with separators);
 * otherwise undefined, and the caller's value is never used or logged.
 */
export function acceptRequestId(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (!RequestId.safeParse(value).success) return undefined;
  if (containsCardNumber(value)) return undefined;
  return value;
}

/** The request's id as requestLogging named it (undefined outside it). */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return typeof req.id === 'string' ? req.id : undefined;
}

/** Requests polled by monitors: answered, never logged one by one. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** What the line of a completed request says: its route pattern, never its path, query, headers or body. */
function completed(req: IncomingMessage, res: ServerResponse, fields: object): object {
  return { ...fields, method: req.method, route: routeOf(req as Request, res as Response) };
}

/**
 * Names each request and gives it a child logger: the id is the caller's
 * `X-Request-Id` when acceptable (acceptRequestId), else a new UUID; it is
 * echoed in the answer's `X-Request-Id`, is `req.id`, and is `requestId` on
 * every line logged through `req.log`. One line is logged per completed
 * request (monitoring routes aside): method, route pattern, status and
 * duration. Mounted before anything that may refuse a request (a card
 * number in the path is refused by a later guard), so refusals are named too.
 */
export function requestLogging(logger: Logger): RequestHandler {
  const middleware = pinoHttp<IncomingMessage, ServerResponse>({
    logger,
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    genReqId: (req, res) => {
      const id = acceptRequestId(req.headers['x-request-id']) ?? randomUUID();
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    // The raw request is never serialized (its path, query and headers may hold a card number or a token).
    wrapSerializers: false,
    serializers: {
      req: () => undefined,
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    customSuccessObject: completed,
    // A 5xx is one line like any other: the error itself, if any, was logged by problemMiddleware with its cause.
    customErrorObject: (req, res, _err, fields: { res?: unknown; responseTime?: unknown }) => completed(req, res, { res: fields.res, responseTime: fields.responseTime }),
    customErrorMessage: () => 'request completed',
    autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?', 1)[0]!) },
    // 503 is a designed answer (a dependency is away: retry later), not a fault of this process.
    customLogLevel: (_req, res, err) => (err || (res.statusCode >= 500 && res.statusCode !== 503) ? 'error' : res.statusCode === 503 ? 'warn' : 'info'),
  });
  return (req, res, next) => middleware(req, res, next);
}
