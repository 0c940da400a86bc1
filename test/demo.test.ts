import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { demoNames } from '@tillstream/cli';
import { ForecastDemandV1, LossPreventionAlerts, ReplenishmentPage } from '@tillstream/contracts';
import { dropDatabase } from '@tillstream/db';
import { isPortFree } from '@tillstream/infra';
import { dropRedisUser, signIn, testBrowser, testEnv, testTlsFiles, uniqueName, waitFor } from '@tillstream/testing';

const BIN = fileURLToPath(new URL('../packages/cli/bin/tillstream.js', import.meta.url));

/** A base port whose demo ports (2 stores and HQ) are all free right now. */
async function freeBasePort(): Promise<number> {
  for (;;) {
    // Below Linux's ephemeral range (32768 and up): a port the kernel hands to some client's outgoing
    // connection meanwhile made a demo service fail with EADDRINUSE between this check and its listen.
    const base = 20_000 + 100 * Math.floor(Math.random() * 120);
    const ports = [base, base + 1, base + 2, base + 3, base + 10, base + 100, base + 101, base + 102, base + 103];
    if ((await Promise.all(ports.map((p) => isPortFree(p)))).every(Boolean)) return base;
  }
}

/** True while any process of the group is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fixed-offset zone where it is about noon now: the bakery's history is
 * open at this hour on every weekday, so the velocity baseline (this hour
 * on the same weekday of earlier weeks) has sales whenever the test runs.
 */
function zoneAtNoon(now = new Date()): string {
  const offset = 12 - now.getUTCHours(); // -11 .. +12
  // IANA's Etc zones count the other way round: Etc/GMT-3 is UTC+3.
  return offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

const json = async <T>(url: string, headers: Record<string, string>): Promise<T> => (await (await fetch(url, { headers })).json()) as T;

describe('npm start (tillstream demo)', () => {
  it('brings up HQ and two stores seeded with history that sell and sync, prints the URLs, and Ctrl-C stops every process it started', async () => {
    const namespace = uniqueName('demo');
    const base = await freeBasePort();
    const logDir = mkdtempSync(join(tmpdir(), 'tillstream-demo-logs-'));
    // Its own process group, as a terminal runs it: Ctrl-C signals the demo and every child at once.
    const demo = spawn(
      process.execPath,
      // The run's CA as the demo's: this process (NODE_EXTRA_CA_CERTS) trusts what the demo serves.
      // Two weeks of history (not the default eight) keep this test quick; what it checks needs last week's.
      [BIN, 'demo', '--stores', '2', '--terminals', '2', '--rate', '2', '--history-weeks', '2', '--time-zone', zoneAtNoon(), '--base-port', String(base), '--namespace', namespace, '--log-dir', logDir, '--certs-dir', testTlsFiles().dir],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } },
    );
    const pgid = demo.pid!;
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    onTestFinished(async () => {
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
      const server = testEnv.POSTGRES_URL;
      const names = demoNames(namespace);
      for (const name of [names.hqDatabase, names.storeDatabase('S001'), names.storeDatabase('S002')]) await dropDatabase(server, name).catch(() => undefined);
      // The demo's sync logs in to Redis as a user of the namespace's own; the shared server keeps no trace of this run.
      await dropRedisUser({ adminUrl: testEnv.REDIS_URL, user: `tillstream_sync_${namespace}` });
    });

    await waitFor(() => output.includes('Tillstream demo is running') || demo.exitCode !== null, { timeoutMs: 240_000, message: 'the demo to start' });
    expect(demo.exitCode, output).toBeNull();
    const hq = `https://127.0.0.1:${base + 10}`;
    const storeApi = (n: number) => `https://127.0.0.1:${base + 100 * n + 1}`;
    expect(output).toContain(`${hq}/`);
    expect(output).toContain(`${storeApi(0)}/`);
    expect(output).toContain(`${storeApi(1)}/`);
    // The tokens the demo printed: every API but /healthz wants one.
    const printed = (pattern: RegExp) => ({ authorization: `Bearer ${pattern.exec(output)?.[1] ?? 'none printed'}` });
    const admin = printed(/HQ admin token +(tt_\S+)/);
    const manager = (n: number) => printed(new RegExp(`S00${n + 1} manager token +(tt_\\S+)`));

    // Both stores sell; each store API answers sales, stock and sync on its one port; HQ sees both stores.
    for (const n of [0, 1]) {
      await waitFor(async () => (await json<{ figures: { transactions: number } }>(`${storeApi(n)}/v1/sales/summary`, manager(n))).figures.transactions > 0, {
        timeoutMs: 60_000,
        message: `store ${n + 1}'s sales in its store API`,
      });
      expect((await fetch(`${storeApi(n)}/v1/inventory/items`, { headers: manager(n) })).status).toBe(200);
      expect((await fetch(`${storeApi(n)}/v1/inventory/items`)).status).toBe(401);
      expect((await fetch(`${storeApi(n)}/v1/sync/status`, { headers: manager(n) })).status).toBe(200);
      expect(await (await fetch(`${storeApi(n)}/`, { headers: manager(n) })).text()).toContain('Tillstream store');
    }
    // The seeding's progress was shown, and the history arrived through ingest before the demo said it was running.
    expect(output).toMatch(/seeding: week of \d{4}-\d{2}-\d{2} \(3\/3\)/);
    expect(output).toContain('dashboards populated');

    // The store's dashboard in a browser looks like a real store's: stock on hand, last week's line, top sellers.
    // The demo made its own server certificate (servers/demo.crt) in the run's CA directory: the browser trusts its key.
    const browser = await testBrowser({ serverCertFiles: [join(testTlsFiles().dir, 'servers', 'demo.crt')] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await signIn(page, storeApi(0), manager(0).authorization.slice('Bearer '.length));
    await page.waitForFunction(`document.querySelector('[data-testid="top-0"]') !== null`, undefined, { timeout: 30_000 });
    // Page functions are strings: this file is type-checked without the DOM library.
    // The dashboard builds each snapshot from several reads of trends, each bounded (2 s); on a loaded machine one can
    // come back empty and a later snapshot (pushed every DASHBOARD_INTERVAL_MS, 1 s) carries it: wait for one with the line.
    await page
      .waitForFunction(`(Chart.getChart('hourly-chart')?.data.datasets[1]?.data ?? []).some((v) => v !== null && v > 0)`, undefined, { timeout: 60_000 })
      .catch(() => undefined); // the assertion below names what the page shows
    const lastWeek = await page.evaluate<Array<number | null>>(`Chart.getChart('hourly-chart').data.datasets[1].data`);
    expect(lastWeek.some((v) => v !== null && v > 0), `last week's line: ${JSON.stringify(lastWeek)}`).toBe(true);
    expect(await page.locator('#stock .status.NEGATIVE').count()).toBe(0);
    const negative = await json<{ items: unknown[] }>(`${storeApi(0)}/v1/inventory/items?status=negative`, manager(0));
    expect(negative.items).toEqual([]);
    const top = await json<{ items: Array<{ sku: string }> }>(`${storeApi(0)}/v1/sales/top?window=today&by=revenue&limit=10`, manager(0));
    expect(top.items.map((i) => i.sku)).toContain(await page.getByTestId('top-0').textContent());
    // Velocity against this hour of the same weekday in earlier weeks: the history gives it a baseline.
    const velocity = await json<{ unitsLastHour: number; baselineUnitsPerHour: number }>(`${storeApi(0)}/v1/sales/velocity`, manager(0));
    expect(velocity.baselineUnitsPerHour).toBeGreaterThan(0);
    expect(velocity.unitsLastHour).toBeGreaterThan(0);
    // The demo waited for them: demand forecasts made from the history through yesterday.
    expect(output).toContain('forecasts made from the history');
    const today = (await json<{ businessDay: string }>(`${storeApi(0)}/v1/sales/summary`, manager(0))).businessDay;
    const yesterday = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    const forecast = await fetch(`${storeApi(0)}/v1/forecast/skus/${encodeURIComponent(top.items[0]!.sku)}`, { headers: manager(0) });
    expect(forecast.status).toBe(200);
    const made = ForecastDemandV1.parse(await forecast.json());
    expect(made.dataThrough).toBe(yesterday);
    expect(made.daily.map((d) => d.businessDay)[0]).toBe(today);
    expect(made.daily.reduce((sum, d) => sum + d.mean, 0)).toBeGreaterThan(0);

    // What to order today, on its own: the seeded deliveries are a bakery's (the day's bake every morning from a shelf one pack
    // above the reorder point, the weekly goods on Monday), so by noon the fresh goods are at or below their forecast reorder
    // point. Several orders are due at start, nothing forced; the page's suggested order for one of them is the API's.
    const dueToday = async () => ReplenishmentPage.parse(await json(`${storeApi(0)}/v1/inventory/replenishment?due=today&limit=500`, manager(0))).suggestions;
    const dueAtStart = await dueToday();
    expect(dueAtStart.length, JSON.stringify(dueAtStart.map((s) => [s.sku, s.why.note]))).toBeGreaterThanOrEqual(3);
    expect(dueAtStart.every((s) => s.orderToday && s.quantity > 0)).toBe(true);
    const quantity = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 3 });
    const agreed = await waitFor(
      async () => {
        // The live tills sell and the back office delivers meanwhile: the page and the API agree at some refresh.
        for (const api of (await dueToday()).filter((s) => s.basis === 'FORECAST')) {
          const [shown, why] = await page.evaluate<[string | null, string | null]>(
            `[document.querySelector('[data-testid="order-${api.sku}"]')?.textContent ?? null, document.querySelector('[data-testid="why-${api.sku}"]')?.textContent ?? null]`,
          );
          if (shown === quantity.format(api.quantity) && why === api.why.note) return api;
        }
        return undefined;
      },
      { timeoutMs: 60_000, message: "a due SKU's suggested order on the store's page equal to the API's" },
    );
    // Nothing was forced: the SKU's lead time is the one the demo's settings gave it.
    const item = await json<{ settings: { leadTimeDays: number | null } }>(`${storeApi(0)}/v1/inventory/items/${encodeURIComponent(agreed.sku)}`, manager(0));
    expect(item.settings.leadTimeDays).toBe(agreed.why.leadTimeDays);
    expect(agreed.why.leadTimeDays).toBeLessThan(14);
    expect(agreed.basis).toBe('FORECAST');
    expect(agreed.orderToday).toBe(true);
    expect(agreed.quantity).toBeGreaterThan(0);
    expect(agreed.why.forecast?.dataThrough).toBe(yesterday);
    mkdirSync(join(process.cwd(), 'test-output', 'dashboards'), { recursive: true });
    await page.screenshot({ path: join(process.cwd(), 'test-output', 'dashboards', 'demo-store.png'), fullPage: true });

    // Loss prevention: the demo planted a sweethearting operator (OP3, --sweetheart) in the live tills; the store manager's
    // panel names them, row for row as GET /v1/loss-prevention/alerts does.
    expect(output).toContain('Planted: operator OP3');
    const who = (a: { dimension: string; member: string }) => `${a.dimension === 'OPERATOR' ? 'operator' : 'till'} ${a.member}`;
    const panel = await waitFor(
      async () => {
        const { alerts } = LossPreventionAlerts.parse(await json(`${storeApi(0)}/v1/loss-prevention/alerts?limit=20`, manager(0)));
        if (!alerts.some((a) => a.dimension === 'OPERATOR' && a.member === 'OP3')) return undefined;
        const shown = await page.evaluate<string[]>(`[...document.querySelectorAll('[data-testid^="lossprev-"]')].filter((e) => e.dataset.testid !== 'lossprev-note').map((e) => e.textContent)`);
        return JSON.stringify(shown) === JSON.stringify(alerts.map(who)) ? shown : undefined;
      },
      { timeoutMs: 180_000, message: "the planted operator's loss-prevention alert on the store manager's page, as the API lists it" },
    );
    expect(panel).toContain('operator OP3');
    await page.screenshot({ path: join(process.cwd(), 'test-output', 'dashboards', 'demo-store-loss-prevention.png'), fullPage: true });

    await waitFor(
      async () => {
        const { sales } = await json<{ sales: Array<{ storeId: string; transactions: number }> }>(`${hq}/v1/sales/stores`, admin);
        return ['S001', 'S002'].every((id) => sales.some((s) => s.storeId === id && s.transactions > 0));
      },
      { timeoutMs: 90_000, message: "both stores' sales at HQ" },
    );
    // Minutes of live selling later, still no stock booked negative: the back office delivers before a sale would empty a shelf.
    for (const n of [0, 1]) expect((await json<{ items: unknown[] }>(`${storeApi(n)}/v1/inventory/items?status=negative`, manager(n))).items).toEqual([]);

    process.kill(-pgid, 'SIGINT');
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running after 60 s'), 60_000))]);
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toContain('simulator stopped');
    await waitFor(() => !groupAlive(pgid), { timeoutMs: 15_000, message: "the demo's processes to be gone" });
    const ports = [base, base + 1, base + 2, base + 3, base + 10, base + 100, base + 101, base + 102, base + 103];
    expect((await Promise.all(ports.map((p) => isPortFree(p)))).every(Boolean)).toBe(true);
  }, 600_000);
});
