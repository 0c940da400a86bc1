import type { Principal, Role } from '@tillstream/contracts';
import type { AuthenticationOptions } from './auth.ts';

/**
 * For this package's own tests (no database): one bearer token per role,
 * the token being "token-<role>". Services authenticate against their
 * database (findPrincipal in @tillstream/db).
 */
export function fixedAuthentication(): AuthenticationOptions {
  return {
    lookup: async (credential) => {
      const role = credential.kind === 'bearer' ? /^token-(.+)$/.exec(credential.secret)?.[1] : undefined;
      return role ? ({ role: role as Role, name: `a ${role}` } satisfies Principal) : undefined;
    },
    cacheMs: 0,
  };
}
