import type { UserRole } from '@tillstream/contracts';
import { issueUserToken, type Queryable } from '@tillstream/db';

/** One token per person's role of a site: a store's database holds managers and viewers, HQ's viewers and admins. */
export type SiteTokens<Site extends 'store' | 'hq'> = Site extends 'store' ? Record<'store-manager' | 'store-viewer', string> : Record<'hq-viewer' | 'hq-admin', string>;

const ROLES = { store: ['store-manager', 'store-viewer'], hq: ['hq-viewer', 'hq-admin'] } as const satisfies Record<'store' | 'hq', readonly UserRole[]>;
// Re-issuing a name and role revokes the token before it: one set per database, however many fixtures ask.
const issued = new WeakMap<Queryable, Promise<Record<string, string>>>();

/**
 * The people of a test's database, one per role ("test store-manager", ...),
 * each with a token issued as `tillstream user add` issues it: how every
 * test calls a guarded route (the routes stay guarded; tests hold credentials).
 */
export function testTokens<Site extends 'store' | 'hq'>(db: Queryable, site: Site): Promise<SiteTokens<Site>> {
  let tokens = issued.get(db);
  if (!tokens) {
    tokens = (async () => {
      const out: Record<string, string> = {};
      for (const role of ROLES[site]) out[role] = await issueUserToken(db, { name: `test ${role}`, role });
      return out;
    })();
    issued.set(db, tokens);
  }
  return tokens;
}

/** The Authorization header for a token. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
