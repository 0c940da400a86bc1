import type { Express, Router } from 'express';
import type { RouteOwner } from './auth.ts';

/** One route an app answers, as its router declares it. */
export interface AppRoute {
  /** GET, POST, ...; '*' for a handler mounted on a path prefix for every method (a forward). */
  method: string;
  /** The express path as declared ("/v1/stock/:sku"); a mounted prefix as "/v1/sales". */
  path: string;
  /** True for a prefix mount: it also answers every path under `path`. */
  prefix: boolean;
  /** Who may call it, as its `allow` (or `anonymous`) guard declares; undefined when no guard does (an ownerless route). */
  owner?: RouteOwner;
}

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean>; stack?: Layer[] };
  handle: { stack?: Layer[]; owner?: RouteOwner };
  rawPath?: unknown;
}

/**
 * Every route of an express app or router, taken from its router stacks
 * (routers mounted inside routers included), in the order express matches
 * them. Tests walk this list (the fuzz test, the "every route has an owner"
 * test) so that a route added tomorrow is covered without anyone listing it.
 */
export function listRoutes(app: Express | Router): AppRoute[] {
  const routes: AppRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      if (layer.route) {
        const owner = layer.route.stack?.find((l) => l.handle.owner)?.handle.owner;
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on) routes.push({ method: method === '_all' ? '*' : method.toUpperCase(), path: `${prefix}${String(path)}`, prefix: false, ...(owner ? { owner } : {}) });
          }
        }
      } else if (Array.isArray(layer.handle.stack)) {
        walk(layer.handle.stack, `${prefix}${mount}`);
      } else if (mount) {
        routes.push({ method: '*', path: `${prefix}${mount}`, prefix: true, ...(layer.handle.owner ? { owner: layer.handle.owner } : {}) });
      }
    }
  };
  const root = (app as Express & { router?: { stack: Layer[] } }).router?.stack ?? (app as unknown as { stack: Layer[] }).stack;
  walk(root, '');
  return routes;
}
