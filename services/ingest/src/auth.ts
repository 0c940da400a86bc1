import type { RequestHandler } from 'express';
import { classifyPgError, findTerminalByToken, type Pool, type TerminalIdentity } from '@tillstream/db';
import { HttpProblem, bearerAuth } from '@tillstream/http';

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
  return bearerAuth<TerminalIdentity>({
    what: 'terminal token',
    lookup: (token) => findTerminalByToken(options.pool, token),
    authorize: (terminal) => (terminal.storeId === options.storeId ? undefined : new HttpProblem('FORBIDDEN', "this token belongs to another store's terminal")),
    assign: (req, terminal) => {
      req.terminal = terminal;
    },
    onLookupError: classifyPgError,
    ...(options.cacheMs === undefined ? {} : { cacheMs: options.cacheMs }),
  });
}
