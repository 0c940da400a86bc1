import type { Express, Router } from 'express';

/** One route an app answers, as its router declares it. */
export interface AppRoute {
  /** GET, POST, ...; '*' for a handler mounted on a path prefix for every method (a forward). */
  method: string;
  /** The express path as declared ("/v1/stock/:sku"); a mounted prefix as "/v1/sales". */
  path: string;
  /** True for a prefix mount: it also answers every path under `path`. */
  prefix: boolean;
}

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
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
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on) routes.push({ method: method === '_all' ? '*' : method.toUpperCase(), path: `${prefix}${String(path)}`, prefix: false });
          }
        }
      } else if (Array.isArray(layer.handle.stack)) {
        walk(layer.handle.stack, `${prefix}${mount}`);
      } else if (mount) {
        routes.push({ method: '*', path: `${prefix}${mount}`, prefix: true });
      }
    }
  };
  const root = (app as Express & { router?: { stack: Layer[] } }).router?.stack ?? (app as unknown as { stack: Layer[] }).stack;
  walk(root, '');
  return routes;
}
