import { createHash } from 'node:crypto';
import type { Express, Request, RequestHandler } from 'express';
import { admits, type Principal, type Role } from '@tillstream/contracts';
import { HttpProblem } from './problem.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** Who is calling (set by the route's `allow` guard). */
    principal?: Principal;
  }
}

/** What a request presents: a bearer token, or a dashboard session cookie. */
export interface Credential {
  kind: 'bearer' | 'session';
  secret: string;
}

/**
 * The session cookies a dashboard sign-in sets: `tillstream_session_<port>`.
 * Browsers do not tell ports apart for cookies: on one host (the demo's HQ
 * and stores) one name would have each sign-in push out the other's.
 */
export const SESSION_COOKIE = 'tillstream_session';
/** At most this many session cookies of one request are looked up (a request cannot make a service look up many). */
const MAX_SESSION_COOKIES = 4;

export interface AuthenticationOptions {
  /** Who a credential belongs to, or undefined (unknown, malformed, expired, revoked). May throw (database down). */
  lookup(credential: Credential): Promise<Principal | undefined>;
  /** How long a looked-up credential is trusted without asking again; default 5 s. It bounds how long a revoked token keeps working. */
  cacheMs?: number;
  /** Turns a lookup failure into the problem to answer (a classified database error). */
  onLookupError?(err: unknown): unknown;
}

type Authenticate = (credential: Credential) => Promise<Principal | undefined>;

/**
 * Installs an app's one way of telling who is calling, which every `allow`
 * guard of its routes uses. Lookups are cached briefly by credential hash,
 * in a bounded map (a flood of random tokens cannot grow memory).
 */
export function useAuthentication(app: Express, options: AuthenticationOptions): void {
  const cacheMs = options.cacheMs ?? 5000;
  const cache = new Map<string, { principal: Principal | undefined; until: number }>();
  const authenticate: Authenticate = async (credential) => {
    const key = createHash('sha256').update(credential.kind).update('\0').update(credential.secret).digest('base64');
    const now = Date.now();
    const cached = cache.get(key);
    if (cached && cached.until >= now) return cached.principal;
    let principal: Principal | undefined;
    try {
      principal = await options.lookup(credential);
    } catch (err) {
      throw options.onLookupError ? options.onLookupError(err) : err;
    }
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { principal, until: now + cacheMs });
    return principal;
  };
  app.locals.authenticate = authenticate;
}

/** The credentials a request carries: its bearer token alone, else its session cookies (several when one host runs several dashboards). */
export function credentialsOf(req: Request): Credential[] {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer) return [{ kind: 'bearer', secret: bearer }];
  const sessions: Credential[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    const name = eq > 0 ? part.slice(0, eq).trim() : '';
    const secret = part.slice(eq + 1).trim();
    if ((name === SESSION_COOKIE || name.startsWith(`${SESSION_COOKIE}_`)) && secret && sessions.length < MAX_SESSION_COOKIES) sessions.push({ kind: 'session', secret });
  }
  return sessions;
}

/** Who the first of `credentials` that someone holds belongs to, with that credential. */
async function identify(req: Request, credentials: Credential[]): Promise<{ principal: Principal; credential: Credential } | undefined> {
  const authenticate = authenticatorOf(req);
  for (const credential of credentials) {
    const principal = await authenticate(credential);
    if (principal) return { principal, credential };
  }
  return undefined;
}

/** Who is calling and with what, or undefined (no credential, or none that anyone holds); for a page that shows a sign-in form to strangers. */
export function principalOf(req: Request): Promise<{ principal: Principal; credential: Credential } | undefined> {
  return identify(req, credentialsOf(req));
}

function authenticatorOf(req: Request): Authenticate {
  const authenticate = (req.app.locals as { authenticate?: Authenticate }).authenticate;
  // Fail closed: a guarded route in an app that never said how to authenticate is a bug, never an open door.
  if (!authenticate) throw new Error('this app has allow() guards but no useAuthentication()');
  return authenticate;
}

/** Who owns a route: the roles that may call it, or the reviewed reason it is open to anyone. */
export type RouteOwner = { roles: readonly Role[] } | { anonymous: string };

/** A route's first handler, declaring its owner where listRoutes (and the anonymous walk test) can read it back. */
export type Guard = RequestHandler & { owner: RouteOwner };

export interface AllowOptions {
  /** A further rule once the role is right (a store acting only for itself): a 403 problem, or undefined to let it through. */
  check?(principal: Principal, req: Request): HttpProblem | undefined;
}

/**
 * The owner of a route, declared first in its definition, before any body
 * parser: 401 (with the connection closed when a body is waiting, so that
 * nothing of it is read) when the request carries no credential, or one
 * nobody holds; 403 when its role may not call the route (a store manager
 * may call what a store viewer may, an HQ admin what an HQ viewer may).
 */
export function allow(roles: Role | readonly Role[], options: AllowOptions = {}): Guard {
  const allowed: readonly Role[] = typeof roles === 'string' ? [roles] : roles;
  const guard: RequestHandler = async (req, res, next) => {
    const refuse = (problem: HttpProblem) => {
      if (!req.complete) res.setHeader('connection', 'close');
      next(problem);
    };
    const credentials = credentialsOf(req);
    if (credentials.length === 0) {
      refuse(new HttpProblem('UNAUTHORIZED', 'send a token as "Authorization: Bearer <token>" (dashboards: sign in)'));
      return;
    }
    let principal: Principal | undefined;
    try {
      principal = (await identify(req, credentials))?.principal;
    } catch (err) {
      next(err);
      return;
    }
    if (!principal) {
      refuse(new HttpProblem('UNAUTHORIZED', credentials[0]!.kind === 'bearer' ? 'the token is unknown or revoked' : 'the session has expired or was ended; sign in again'));
      return;
    }
    if (!admits(allowed, principal.role)) {
      refuse(new HttpProblem('FORBIDDEN', `this is for ${allowed.join(' or ')}; these credentials are a ${principal.role}'s`));
      return;
    }
    const refused = options.check?.(principal, req);
    if (refused) {
      refuse(refused);
      return;
    }
    req.principal = principal;
    next();
  };
  return Object.assign(guard, { owner: { roles: allowed } });
}

/**
 * A route anyone may call, with the reason (the anonymous walk test keeps a
 * reviewed list of exactly these). It declares, it does not check.
 */
export function anonymous(reason: string): Guard {
  const pass: RequestHandler = (_req, _res, next) => next();
  return Object.assign(pass, { owner: { anonymous: reason } });
}
