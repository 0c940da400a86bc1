import type { RequestHandler } from 'express';
import { classifyPgError, findTerminalByToken, hashToken, type Pool, type TerminalIdentity } from '@tillstream/db';
import { HttpProblem } from '@tillstream/http';

export interface TerminalAuthOptions {
  pool: Pool;
  /** This ingest's store: tokens of other stores are refused. */
  storeId: string;
  /**
   * How long a looked-up token is trusted without asking PostgreSQL again;
   * default 5 s. It bounds how long a revoked token keeps working.
   */
  cacheMs?: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The terminal the bearer token belongs to (set by the auth middleware). */
    terminal?: TerminalIdentity;
  }
}

/** Per-terminal bearer tokens: 401 when missing, malformed, unknown or revoked; 403 for another store's terminal. */
export function terminalAuth(options: TerminalAuthOptions): RequestHandler {
  const cacheMs = options.cacheMs ?? 5000;
  const cache = new Map<string, { terminal: TerminalIdentity | undefined; until: number }>();
  return async (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      next(new HttpProblem('UNAUTHORIZED', 'send the terminal token as "Authorization: Bearer <token>"'));
      return;
    }
    const token = match[1]!;
    const key = hashToken(token).toString('base64');
    const now = Date.now();
    let cached = cache.get(key);
    if (!cached || cached.until < now) {
      try {
        cached = { terminal: await findTerminalByToken(options.pool, token), until: now + cacheMs };
      } catch (err) {
        next(classifyPgError(err));
        return;
      }
      if (cache.size > 10_000) cache.clear(); // bounded: a flood of random tokens cannot grow memory
      cache.set(key, cached);
    }
    if (!cached.terminal) {
      next(new HttpProblem('UNAUTHORIZED', 'the token is unknown or revoked'));
      return;
    }
    if (cached.terminal.storeId !== options.storeId) {
      next(new HttpProblem('FORBIDDEN', `this token belongs to another store's terminal`));
      return;
    }
    req.terminal = cached.terminal;
    next();
  };
}
