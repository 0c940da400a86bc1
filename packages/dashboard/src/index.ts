import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Response } from 'express';

const PUBLIC = fileURLToPath(new URL('../public/', import.meta.url));
// chart.js exports no subpath for its browser build; it sits beside the package's main file.
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

export interface DashboardOptions<Snapshot> {
  /** Which page: the store manager's or HQ's (its body in public/<page>.html, its script <page>.js). */
  page: 'store' | 'hq';
  /** The browser tab's title. */
  title: string;
  /** Everything the page shows, read fresh (the same figures the service's API serves). */
  snapshot: () => Promise<Snapshot>;
  /** How often live pages are brought up to date; default 1000 ms. */
  intervalMs?: number;
  /** Told when reading the snapshot failed (a live page keeps its last figures). */
  onError?: (err: unknown) => void;
}

export interface Dashboard {
  router: Router;
  /** Ends every live stream (a stopping service must not wait for open pages). */
  close(): void;
}

// A Map, not an object literal: `/dashboard/constructor` found Object's constructor (a 500).
const ASSETS = new Map<string, { type: string; body: () => Buffer }>();
function asset(name: string, type: string, path = `${PUBLIC}${name}`) {
  let cached: Buffer | undefined;
  ASSETS.set(name, { type, body: () => (cached ??= readFileSync(path)) });
}
asset('dashboard.css', 'text/css; charset=utf-8');
asset('live.js', 'text/javascript; charset=utf-8');
asset('hq.js', 'text/javascript; charset=utf-8');
asset('store.js', 'text/javascript; charset=utf-8');
asset('chart.umd.min.js', 'text/javascript; charset=utf-8', CHART_JS);

/** The shared head and scripts around a page's body. */
function page(title: string, name: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/dashboard/dashboard.css">
</head>
<body>
${body}<script src="/dashboard/chart.umd.min.js"></script>
<script src="/dashboard/live.js"></script>
<script src="/dashboard/${name}.js"></script>
</body>
</html>
`;
}

/**
 * A live dashboard for a service: the page at `/`, its assets under
 * `/dashboard/`, its figures at `GET /v1/dashboard` and pushed as
 * server-sent events at `GET /v1/dashboard/events` whenever they change.
 * One reader serves every open page: the snapshot is read once per
 * interval while at least one page is open, and never otherwise.
 */
export function dashboard<Snapshot>(options: DashboardOptions<Snapshot>): Dashboard {
  const router = Router();
  const clients = new Set<Response>();
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let reading = false;

  const push = (res: Response, json: string) => res.write(`event: snapshot\ndata: ${json}\n\n`);
  const refresh = async () => {
    if (reading) return;
    reading = true;
    try {
      const json = JSON.stringify(await options.snapshot());
      if (json !== last) {
        last = json;
        for (const res of clients) push(res, json);
      }
    } catch (err) {
      options.onError?.(err);
    } finally {
      reading = false;
    }
  };

  let html: string | undefined;
  router.get('/', (_req, res) => {
    html ??= page(options.title, options.page, readFileSync(`${PUBLIC}${options.page}.html`, 'utf8'));
    res.type('html').send(html);
  });
  router.get('/dashboard/:file', (req, res) => {
    const file = ASSETS.get(req.params.file);
    if (!file) {
      res.status(404).end();
      return;
    }
    res.type(file.type).set('cache-control', 'no-cache').send(file.body());
  });
  router.get('/v1/dashboard', async (_req, res) => {
    res.json(await options.snapshot());
  });
  router.get('/v1/dashboard/events', async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // A HEAD has no stream to follow (its head was never sent: a request left hanging).
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write('retry: 2000\n\n');
    clients.add(res);
    req.on('close', () => {
      clients.delete(res);
      if (clients.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
        last = undefined;
      }
    });
    if (last !== undefined) push(res, last);
    else await refresh();
    timer ??= setInterval(() => void refresh(), options.intervalMs ?? 1000);
  });

  return {
    router,
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
