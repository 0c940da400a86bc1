import { z } from 'zod';

/**
 * Who may call what (docs/roles.md). Least privilege: a terminal only
 * ingests, a store only uploads its own data, a viewer only reads. Two roles
 * include another: a store manager may do what a store viewer may, an HQ
 * admin what an HQ viewer may (see `admits`).
 */
export const Role = z.enum(['terminal', 'store', 'store-manager', 'store-viewer', 'hq-viewer', 'hq-admin']);
export type Role = z.infer<typeof Role>;

/** The roles a person holds (`tillstream user add --role ...`), by the database they live in. */
export const UserRole = z.enum(['store-manager', 'store-viewer', 'hq-viewer', 'hq-admin']);
export type UserRole = z.infer<typeof UserRole>;

/** Where a user's token is valid: store roles in the store's database, HQ roles in HQ's. */
export function siteOf(role: UserRole): 'store' | 'hq' {
  return role.startsWith('hq-') ? 'hq' : 'store';
}

const INCLUDES: Partial<Record<Role, readonly Role[]>> = { 'store-manager': ['store-viewer'], 'hq-admin': ['hq-viewer'] };

/** True when a principal holding `held` may call a route that allows `allowed`. */
export function admits(allowed: readonly Role[], held: Role): boolean {
  return allowed.includes(held) || (INCLUDES[held] ?? []).some((r) => allowed.includes(r));
}

/** Who a credential belongs to, as the routes see it: a terminal, a store or a person. */
export interface Principal {
  role: Role;
  /** A person's name; "<store>/<terminal>" for a terminal; the store id for a store. */
  name: string;
  storeId?: string;
  terminalId?: string;
}
