import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { RequestId, maskCardLikeDigits } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';
import { containsCardNumber } from './card-numbers.ts';

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

const pathOf = (url: string | undefined): string => (url ?? '').split('?', 1)[0]!;

/**
 * Names each request and gives it a child logger: the id is the caller's
 * `X-Request-Id` when acceptable (acceptRequestId), else a new UUID; it is
 * echoed in the answer's `X-Request-Id`, is `req.id`, and is `requestId` on
 * every line logged through `req.log`. One line is logged per completed
 * request (monitoring routes aside): method, path (query dropped, card-like
 * digits masked), status and duration; never headers or bodies. Mounted
 * before anything that may refuse a request, so refusals are named too.
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
    // Metadata, not documents: the path may hold a card number a guard is about to refuse.
    serializers: {
      req: (req: { method?: string; url?: string }) => ({ method: req.method, path: maskCardLikeDigits(pathOf(req.url)) }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => QUIET_PATHS.has(pathOf(req.url)) },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
  });
  return (req, res, next) => middleware(req, res, next);
}
