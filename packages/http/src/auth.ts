import type { Request, RequestHandler } from 'express';
import { createHash } from 'node:crypto';
import { HttpProblem } from './problem.ts';

export interface BearerAuthOptions<Principal> {
  /** What the token is, for error messages: "terminal token", "store token". */
  what: string;
  /** The principal a live token belongs to, or undefined (unknown, malformed, revoked). May throw (database down). */
  lookup(token: string): Promise<Principal | undefined>;
  /** A problem when this principal may not make this request (403), else undefined. */
  authorize?(principal: Principal, req: Request): HttpProblem | undefined;
  /** Hands the principal to the routes. */
  assign(req: Request, principal: Principal): void;
  /** How long a looked-up token is trusted without asking again; default 5 s. It bounds how long a revoked token keeps working. */
  cacheMs?: number;
  /** Turns a lookup failure into the problem to answer (a classified database error). */
  onLookupError?(err: unknown): unknown;
}

/**
 * Bearer-token authentication for every Tillstream API: 401 when the token is
 * missing, unknown or revoked, then the caller's own 403 rule. Lookups are
 * cached briefly by token hash, in a bounded map (a flood of random tokens
 * cannot grow memory).
 */
export function bearerAuth<Principal>(options: BearerAuthOptions<Principal>): RequestHandler {
  const cacheMs = options.cacheMs ?? 5000;
  const cache = new Map<string, { principal: Principal | undefined; until: number }>();
  return async (req, _res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      next(new HttpProblem('UNAUTHORIZED', `send the ${options.what} as "Authorization: Bearer <token>"`));
      return;
    }
    const token = match[1]!;
    const key = createHash('sha256').update(token).digest('base64');
    const now = Date.now();
    let cached = cache.get(key);
    if (!cached || cached.until < now) {
      try {
        cached = { principal: await options.lookup(token), until: now + cacheMs };
      } catch (err) {
        next(options.onLookupError ? options.onLookupError(err) : err);
        return;
      }
      if (cache.size > 10_000) cache.clear();
      cache.set(key, cached);
    }
    if (cached.principal === undefined) {
      next(new HttpProblem('UNAUTHORIZED', `the ${options.what} is unknown or revoked`));
      return;
    }
    const refused = options.authorize?.(cached.principal, req);
    if (refused) {
      next(refused);
      return;
    }
    options.assign(req, cached.principal);
    next();
  };
}
