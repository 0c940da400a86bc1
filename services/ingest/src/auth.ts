import type { TerminalIdentity } from '@tillstream/db';
import { HttpProblem, allow, type Guard } from '@tillstream/http';

declare module 'express-serve-static-core' {
  interface Request {
    /** The terminal the bearer token belongs to (set by the terminal guard). */
    terminal?: TerminalIdentity;
  }
}

/** Terminals only: 401 when the token is missing, unknown or revoked; 403 for another store's terminal or another role. */
export function terminalAuth(options: { storeId: string }): Guard {
  return allow('terminal', {
    check: (principal, req) => {
      if (principal.storeId !== options.storeId) return new HttpProblem('FORBIDDEN', "this token belongs to another store's terminal");
      req.terminal = { storeId: principal.storeId, terminalId: principal.terminalId! };
      return undefined;
    },
  });
}
