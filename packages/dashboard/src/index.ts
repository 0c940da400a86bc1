import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Request, type Response } from 'express';
import { admits, type Role } from '@tillstream/contracts';
import { HttpProblem, SESSION_COOKIE, allow, anonymous, principalOf } from '@tillstream/http';
import getRawBody from 'raw-body';

const PUBLIC = fileURLToPath(new URL('../public/', import.meta.url));
// chart.js exports no subpath for its browser build; it sits beside the package's main file.
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

export interface DashboardOptions<Snapshot> {
  /** Which page: the store manager's or HQ's (its body in public/<page>.html, its script <page>.js). */
  page: 'store' | 'hq';
  /** The browser tab's title. */
  title: string;
  /** Everything the page shows, read fresh (the same figures the service's API serves): StoreDashboardSnapshot or HqDashboardSnapshot of @tillstream/contracts. */
  snapshot: () => Promise<Snapshot>;
  /** How often live pages are brought up to date; default 1000 ms. */
  intervalMs?: number;
  /** Told when reading the snapshot failed (a live page keeps its last figures). */
  onError?: (err: unknown) => void;
  /** Who may see it (the site's viewer role; roles that include it may too). */
  viewer: Role;
  /** Exchanges a person's token for a session (see @tillstream/db openSession); undefined when nobody holds the token. */
  signIn(token: string): Promise<{ session: string; role: Role; expiresAt: Date } | undefined>;
  /** Ends a session (signing out). */
  signOut(session: string): Promise<void>;
  /** Live streams open at once, over all viewers; default 100. */
  maxStreams?: number;
  /** Live streams one viewer may hold open (tabs); default 4. */
  maxStreamsPerViewer?: number;
  /** A stream whose reader lets more than this many bytes queue up is dropped (it reconnects and gets the latest figures); default 1 MiB. */
  maxBufferedBytes?: number;
  /** How long a snapshot answers GET /v1/dashboard before it is read again; default 1000 ms. */
  snapshotTtlMs?: number;
  /** The clock (ms) the snapshot cache ages by; tests inject one. */
  now?: () => number;
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

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The form a stranger gets instead of the page: a token in, a session cookie out. */
function signInPage(title: string, message?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · ${title}</title>
<link rel="stylesheet" href="/dashboard/dashboard.css">
</head>
<body>
<main class="sign-in">
<h1>${title}</h1>
<form method="post" action="/v1/session">
<label>Token <input type="password" name="token" autocomplete="current-password" required data-testid="token"></label>
<button type="submit" data-testid="sign-in">Sign in</button>
</form>
${message ? `<p role="alert" data-testid="sign-in-error">${escapeHtml(message)}</p>` : ''}<p>A token comes from <code>npx tillstream user add --role …</code>.</p>
</main>
</body>
</html>
`;
}

/** The session cookie: never readable by scripts, never sent over plain HTTP (a browser treats localhost as secure), never sent by another site's page. */
function sessionCookie(req: Request, value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}_${req.socket.localPort ?? 0}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`;
}

/** A sign-in form's body: small, read only up to 4 KiB, application/x-www-form-urlencoded. */
async function formToken(req: Request): Promise<string | undefined> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return undefined;
  let body: string;
  try {
    body = await getRawBody(req, { limit: 4096, encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const token = new URLSearchParams(body).get('token')?.trim();
  return token || undefined;
}

/**
 * A live dashboard for a service: the page at `/`, its assets under
 * `/dashboard/`, its figures at `GET /v1/dashboard` and pushed as
 * server-sent events at `GET /v1/dashboard/events` whenever they change.
 * One reader serves every open page: the snapshot is read once per
 * interval while at least one page is open, and never otherwise; GET
 * /v1/dashboard answers from a snapshot at most `snapshotTtlMs` old.
 *
 * Figures are for `viewer`s only: a stranger at `/` gets a sign-in form that
 * exchanges a token for a session cookie (POST /v1/session; POST
 * /v1/session/end signs out); the stream and the snapshot need the session
 * (or a bearer token). Streams are capped per viewer and in all, and a
 * reader that does not keep up is dropped.
 */
export function dashboard<Snapshot>(options: DashboardOptions<Snapshot>): Dashboard {
  const router = Router();
  const clients = new Set<Response>();
  const perViewer = new Map<string, number>();
  const maxStreams = options.maxStreams ?? 100;
  const maxPerViewer = options.maxStreamsPerViewer ?? 4;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const ttlMs = options.snapshotTtlMs ?? 1000;
  const now = options.now ?? Date.now;
  const viewer = allow(options.viewer);
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let refreshing = false;

  const push = (res: Response, json: string) => {
    res.write(`event: snapshot\ndata: ${json}\n\n`);
    // A reader that does not keep up would hold every snapshot since in memory: drop it (EventSource reconnects).
    if (res.writableLength > maxBuffered) res.destroy();
  };
  // GET /v1/dashboard: one read per ttl however many ask, and one at a time.
  let cached: { json: string; at: number } | undefined;
  let reading: Promise<string> | undefined;
  const fresh = (): Promise<string> => {
    if (cached && now() - cached.at < ttlMs) return Promise.resolve(cached.json);
    reading ??= options
      .snapshot()
      .then((snapshot) => {
        const json = JSON.stringify(snapshot);
        cached = { json, at: now() };
        return json;
      })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  const refresh = async () => {
    if (refreshing) return;
    refreshing = true;
    try {
      const json = JSON.stringify(await options.snapshot());
      if (json !== last) {
        last = json;
        for (const res of clients) push(res, json);
      }
    } catch (err) {
      options.onError?.(err);
    } finally {
      refreshing = false;
    }
  };

  let html: string | undefined;
  router.get('/', anonymous('the page for a signed-in viewer, else the sign-in form; figures come only from the guarded routes'), async (req, res) => {
    const who = (await principalOf(req))?.principal;
    res.setHeader('cache-control', 'no-store');
    if (!who || !admits([options.viewer], who.role)) {
      res.status(who ? 403 : 200).type('html').send(signInPage(options.title, who ? `signed in as ${who.name}, a ${who.role}: this page is for ${options.viewer}s` : undefined));
      return;
    }
    html ??= page(options.title, options.page, readFileSync(`${PUBLIC}${options.page}.html`, 'utf8'));
    res.type('html').send(html);
  });
  router.post('/v1/session', anonymous('sign-in: exchanges a token for a session cookie (body read up to 4 KiB)'), async (req, res) => {
    res.setHeader('cache-control', 'no-store');
    const token = await formToken(req);
    const session = token ? await options.signIn(token) : undefined;
    if (!session || !admits([options.viewer], session.role)) {
      res.setHeader('connection', 'close');
      res.status(session ? 403 : 401).type('html').send(signInPage(options.title, session ? `this token is a ${session.role}'s; this page is for ${options.viewer}s` : 'that token is unknown or revoked'));
      return;
    }
    const maxAge = Math.max(1, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000));
    res.setHeader('set-cookie', sessionCookie(req, session.session, maxAge));
    res.redirect(303, '/');
  });
  router.post('/v1/session/end', viewer, async (req, res) => {
    const credential = (await principalOf(req))?.credential;
    if (credential?.kind === 'session') await options.signOut(credential.secret);
    res.setHeader('set-cookie', sessionCookie(req, '', 0));
    res.redirect(303, '/');
  });
  router.get('/dashboard/:file', anonymous('the pages\' scripts and styles: no figures'), (req, res) => {
    const file = ASSETS.get(String(req.params.file));
    if (!file) {
      res.status(404).end();
      return;
    }
    res.type(file.type).set('cache-control', 'no-cache').send(file.body());
  });
  router.get('/v1/dashboard', viewer, async (_req, res) => {
    res.type('json').send(await fresh());
  });
  router.get('/v1/dashboard/events', viewer, async (req, res) => {
    const who = req.principal!.name;
    if (clients.size >= maxStreams || (perViewer.get(who) ?? 0) >= maxPerViewer) {
      throw new HttpProblem('RATE_LIMITED', clients.size >= maxStreams ? `${maxStreams} live streams are open, the most this service serves; retry later` : `${who} has ${maxPerViewer} live streams open already; close one`, { retryAfterSeconds: 5 });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // A HEAD has no stream to follow (its head was never sent: a request left hanging).
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write('retry: 2000\n\n');
    clients.add(res);
    perViewer.set(who, (perViewer.get(who) ?? 0) + 1);
    req.on('close', () => {
      clients.delete(res);
      const left = (perViewer.get(who) ?? 1) - 1;
      if (left > 0) perViewer.set(who, left);
      else perViewer.delete(who);
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
      perViewer.clear();
    },
  };
}
