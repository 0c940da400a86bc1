import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Role } from '@tillstream/contracts';
import { listen, serviceApp } from '@tillstream/http';
import { fixedAuthentication } from '@tillstream/http/testing';
import { createLogger, createMetricsRegistry } from '@tillstream/observability';
import { dashboard, type DashboardOptions } from './index.ts';

/** The fake sign-in's sessions: "ts_session-of-<role>". */
const session = async (secret: string) => {
  const role = /^ts_session-of-(.+)$/.exec(secret)?.[1] as Role | undefined;
  return role ? { role, name: 'signed in' } : undefined;
};

/** A store dashboard on its own app; "token-<role>" tokens (fixedAuthentication) and sign-in by the same tokens. */
async function board(options: Partial<DashboardOptions<{ n: number }>> = {}) {
  let reads = 0;
  const ended: string[] = [];
  const live = dashboard<{ n: number }>({
    page: 'store',
    title: 'Test store',
    viewer: 'store-viewer',
    snapshot: async () => ({ n: ++reads }),
    signIn: async (token) => {
      const role = /^token-(.+)$/.exec(token)?.[1] as Role | undefined;
      return role ? { session: `ts_session-of-${role}`, role, expiresAt: new Date(Date.now() + 60_000) } : undefined;
    },
    signOut: async (session) => {
      ended.push(session);
    },
    ...options,
  });
  const app = serviceApp({
    registry: createMetricsRegistry({ service: 'dashboard-test' }),
    logger: createLogger({ name: 'dashboard-test', level: 'silent' }),
    ready: {},
    // Sessions of the fake sign-in resolve to the role they were opened for.
    authentication: {
      lookup: async (credential) =>
        credential.kind === 'session' ? session(credential.secret) : fixedAuthentication().lookup(credential),
      cacheMs: 0,
    },
    monitor: 'store-viewer',
    routes: [live.router],
  });
  const server = await listen(app, '127.0.0.1', 0);
  onTestFinished(async () => {
    live.close();
    await server.close();
  });
  return { url: server.url, reads: () => reads, ended };
}

const as = (role: string) => ({ authorization: `Bearer token-${role}` });

/** Opens a live stream and resolves with its status once the head arrives; the stream stays open until `close`. */
function stream(url: string, headers: Record<string, string>): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/dashboard/events`, { headers }, (res) => {
      res.on('data', () => {});
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    // Closing the stream resets it: an error after the head is the test's own doing.
    req.on('error', (err) => (req.destroyed && (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.end();
  });
}

describe('dashboard access', () => {
  it('shows strangers the sign-in form and no figures; a viewer signs in for an HttpOnly, Secure, SameSite=Strict session cookie; other roles are refused', async () => {
    const { url, ended } = await board();
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post" action="/v1/session">');
    expect((await fetch(`${url}/v1/dashboard`)).status).toBe(401);
    expect((await fetch(`${url}/v1/dashboard`, { headers: as('terminal') })).status).toBe(403);
    expect((await fetch(`${url}/v1/dashboard`, { headers: as('store-manager') })).status).toBe(200);

    const signIn = (token: string) =>
      fetch(`${url}/v1/session`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
    expect((await signIn('not-a-token')).status).toBe(401);
    expect((await signIn('token-terminal')).status).toBe(403);
    const signed = await signIn('token-store-viewer');
    expect(signed.status).toBe(303);
    expect(signed.headers.get('location')).toBe('/');
    const cookie = signed.headers.get('set-cookie')!;
    const port = new URL(url).port;
    expect(cookie).toMatch(new RegExp(`^tillstream_session_${port}=ts_session-of-store-viewer; Path=/; Max-Age=\\d+; HttpOnly; Secure; SameSite=Strict$`));
    // Another dashboard's session on the same host (another port) is sent too: this one's is still found.
    const session = { cookie: `tillstream_session_1=ts_someone-else; ${cookie.split(';')[0]!}` };
    expect((await fetch(`${url}/v1/dashboard`, { headers: session })).status).toBe(200);
    expect(await (await fetch(`${url}/`, { headers: session })).text()).toContain('<script src="/dashboard/store.js">');

    const out = await fetch(`${url}/v1/session/end`, { method: 'POST', redirect: 'manual', headers: session });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(new RegExp(`^tillstream_session_${port}=; Path=/; Max-Age=0;`));
    expect(ended).toEqual(['ts_session-of-store-viewer']);
  });

  it('answers GET /v1/dashboard from one snapshot per second, however many ask', async () => {
    let now = 1_000_000;
    const { url, reads } = await board({ now: () => now, snapshotTtlMs: 1000 });
    const get = async () => ((await (await fetch(`${url}/v1/dashboard`, { headers: as('store-viewer') })).json()) as { n: number }).n;
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    now += 999;
    expect(await get()).toBe(1);
    now += 1;
    expect(await get()).toBe(2);
    expect(reads()).toBe(2);
  });

  it('caps live streams per viewer and in all (429 with Retry-After), and frees a place when a stream closes', async () => {
    const { url } = await board({ maxStreamsPerViewer: 2, maxStreams: 3 });
    const a1 = await stream(url, as('store-viewer'));
    const a2 = await stream(url, as('store-viewer'));
    expect([a1.status, a2.status]).toEqual([200, 200]);
    const a3 = await fetch(`${url}/v1/dashboard/events`, { headers: as('store-viewer') });
    expect(a3.status).toBe(429);
    expect(a3.headers.get('retry-after')).toBe('5');
    expect(((await a3.json()) as { code: string }).code).toBe('RATE_LIMITED');
    const b1 = await stream(url, as('store-manager'));
    expect(b1.status).toBe(200);
    // Three open in all: even a viewer with none gets 429.
    expect((await fetch(`${url}/v1/dashboard/events`, { headers: as('store-manager') })).status).toBe(429);
    a1.close();
    await expect.poll(async () => {
      const again = await stream(url, as('store-viewer'));
      again.close();
      return again.status;
    }).toBe(200);
    a2.close();
    b1.close();
  });

  it('drops a live stream whose reader does not keep up, so that its place (and memory) is freed', async () => {
    // Small figures; once, 32 MiB of them: more than loopback's socket buffers take from a reader that reads nothing.
    let big = false;
    const huge = () => {
      big = false;
      return Object.assign({ n: 2 }, { blob: 'x'.repeat(32 * 1024 * 1024) });
    };
    const { url } = await board({
      maxStreamsPerViewer: 1,
      maxBufferedBytes: 1024 * 1024,
      intervalMs: 50,
      snapshot: async () => (big ? huge() : { n: 1 }),
    });
    const stalled = connect(Number(new URL(url).port), '127.0.0.1');
    onTestFinished(() => void stalled.destroy());
    stalled.on('error', () => {});
    stalled.write('GET /v1/dashboard/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer token-store-viewer\r\n\r\n');
    // It reads its first (small) snapshot, so its stream is open, then stops reading.
    await new Promise<void>((resolve) => {
      let seen = '';
      const onData = (chunk: Buffer) => {
        seen += chunk.toString();
        if (!seen.includes('event: snapshot')) return;
        stalled.off('data', onData);
        stalled.pause();
        resolve();
      };
      stalled.on('data', onData);
    });
    // The viewer's one stream is the stalled one: a second is refused while it lives.
    expect((await fetch(`${url}/v1/dashboard/events`, { headers: as('store-viewer') })).status).toBe(429);
    big = true;
    await expect
      .poll(
        async () => {
          const next = await stream(url, as('store-viewer'));
          next.close();
          return next.status;
        },
        { timeout: 20_000 },
      )
      .toBe(200);
  });
});
