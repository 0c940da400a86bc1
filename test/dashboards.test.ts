import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { forecastDemand, storeTopics, type ReplenishmentPage } from '@tillstream/contracts';
import { TypedProducer } from '@tillstream/kafka';
import { issueStoreToken } from '@tillstream/db';
import { hqEnv, startHq } from '@tillstream/hq';
import { syncEnv, startSync } from '@tillstream/sync';
import { testInventory } from '@tillstream/inventory/testing';
import { testTrends } from '@tillstream/trends/testing';
import { SyntheticStore, bearer, kafkaServiceEnv, makeTransaction, signIn, syncRedisUrl, testBrowser, testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testStoreClientEnv, testTlsEnv, testTokens, waitFor } from '@tillstream/testing';

const OUTPUT = join(process.cwd(), 'test-output', 'dashboards');

interface StoreDay {
  storeId: string;
  businessDay: string;
  net: number;
  transactions: number;
}

const money = (minor: number) => new Intl.NumberFormat('en-GB', { style: 'currency', currency: 'GBP' }).format(minor / 100);

/**
 * The dashboards in a real browser (Debian's Chromium, headless, driven by
 * playwright-core) against the real services: the figures on the page are
 * the API's, and a sale made while the page is open appears on it without
 * a reload. Screenshots go to test-output/dashboards/.
 */
describe('dashboards in a browser', () => {
  it("HQ's dashboard shows the chain's sales, sync health and reconciliation as HQ's API does, and updates live", async () => {
    const browser = await testBrowser();
    const hqDb = await testDatabase({ target: 'hq' });
    const hqPrefix = (await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS })).prefix;
    const hq = await startHq(hqEnv.parse({ ...testHqTlsEnv(), ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: hqPrefix, DATABASE_URL: hqDb.urlFor('hq'), PORT: '0', RECONCILE_INTERVAL_MS: '300' }), {
      logger: testLogger('hq'),
    });
    onTestFinished(() => hq.stop());
    const viewer = { headers: bearer((await testTokens(hqDb.pool, 'hq'))['hq-viewer']) };
    await waitFor(async () => (await fetch(`${hq.url}/readyz`, viewer)).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });

    // One store selling today, its trends and its sync to HQ.
    const kafka = await testKafka({ specs: storeTopics });
    const trends = await testTrends({ STORE_ID: 'S001', STORE_TIME_ZONE: 'UTC' }, { kafka });
    const sync = await startSync(
      syncEnv.parse({
        ...testTlsEnv(),
        ...(await testStoreClientEnv('S001')),
        STORE_ID: 'S001',
        TOPIC_PREFIX: kafka.prefix,
        ...kafkaServiceEnv('sync'),
        DATABASE_URL: trends.db.urlFor('sync'),
        REDIS_URL: syncRedisUrl(),
        PORT: '0',
        HQ_URL: hq.url,
        HQ_TOKEN: await issueStoreToken(hqDb.pool, 'S001'),
        SWEEP_INTERVAL_MS: '200',
        SYNC_COALESCE_MS: '300',
        SYNC_BATCH_MAX_DELAY_MS: '0',
        HEARTBEAT_INTERVAL_MS: '500',
        MANIFEST_INTERVAL_MS: '300',
        RETRY_BASE_MS: '200',
        RETRY_MAX_MS: '1000',
      }),
      { logger: testLogger('sync') },
    );
    onTestFinished(() => sync.stop());
    const sale = (i: number) => makeTransaction([{ sku: `SKU-${i % 7}`, quantity: 1 + (i % 3), unitPrice: 150 + 25 * (i % 5) }], { storeId: 'S001', sequenceNumber: i + 1 });
    await trends.publish(Array.from({ length: 12 }, (_, i) => sale(i)));

    const today = new Date().toISOString().slice(0, 10);
    const apiToday = async () => ((await (await fetch(`${hq.url}/v1/sales/stores?businessDay=${today}`, viewer)).json()) as { sales: StoreDay[] }).sales;
    await waitFor(async () => (await apiToday())[0]?.transactions === 12, { timeoutMs: 30_000, message: "HQ's view of the 12 sales" });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // A stranger gets the sign-in form, not the figures; an HQ viewer's token signs the page in (a session cookie).
    await page.goto(hq.url);
    expect(await page.getByTestId('chain-transactions').count()).toBe(0);
    await signIn(page, hq.url, viewer.headers.authorization.slice('Bearer '.length));
    const text = (testid: string) => page.getByTestId(testid).textContent();
    // Page functions are strings: this file is type-checked without the DOM library.
    const shows = (testid: string, value: string, timeout: number) => page.waitForFunction(`document.querySelector('[data-testid="${testid}"]')?.textContent === '${value}'`, undefined, { timeout });
    await shows('chain-transactions', '12', 15_000);
    const [day] = await apiToday();
    expect(await text('chain-net')).toBe(money(day!.net));
    expect(await text('net-S001')).toBe(money(day!.net));
    expect(await text('tx-S001')).toBe('12');
    const health = ((await (await fetch(`${hq.url}/v1/stores/health`, viewer)).json()) as { stores: Array<{ storeId: string; status: string }> }).stores;
    expect(await page.locator('#health tr td.status').first().textContent()).toBe(health[0]!.status);
    expect(await page.locator('canvas#sales-chart').boundingBox()).not.toBeNull();
    // The day's manifest, verified by HQ: the page shows the status the API gives.
    const reconciled = async () => ((await (await fetch(`${hq.url}/v1/reconciliation?storeId=S001&businessDay=${today}`, viewer)).json()) as { days: Array<{ status: string }> }).days[0]?.status;
    await waitFor(async () => (await reconciled()) === 'complete', { timeoutMs: 30_000, message: "HQ to reconcile today's manifest" });
    await shows(`rec-S001-${today}`, 'complete', 15_000);

    // A sale while the page is open: it shows up without a reload.
    await page.evaluate('window.loadMark = 42');
    await trends.publish([sale(12)]);
    await shows('chain-transactions', '13', 30_000);
    expect(await page.evaluate('window.loadMark')).toBe(42);
    const [after] = await apiToday();
    expect(await text('chain-net')).toBe(money(after!.net));

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'hq.png'), fullPage: true });
  }, 120_000);

  it("the store's dashboard shows today's sales, top sellers and stock as the store API does, says what is unavailable, and updates live", async () => {
    const browser = await testBrowser();
    const kafka = await testKafka({ specs: storeTopics });
    const trends = await testTrends({ STORE_ID: 'S001', STORE_TIME_ZONE: 'UTC' }, { kafka });
    // No sync service runs: the page must say so rather than show stale or made-up figures.
    // Inventory shares trends' database, as a store's services do: one store database knows the store's people.
    const inventory = await testInventory({ STORE_ID: 'S001', TRENDS_URL: trends.url, SYNC_URL: 'http://127.0.0.1:1', DASHBOARD_INTERVAL_MS: '300' }, { kafka, db: trends.db });
    const sale = (i: number) => makeTransaction([{ sku: `SKU-${i % 4}`, quantity: 1 + (i % 2), unitPrice: 120 + 40 * (i % 4) }], { storeId: 'S001', sequenceNumber: i + 1 });
    await trends.publish(Array.from({ length: 9 }, (_, i) => sale(i)));
    await trends.caughtUp(30_000);
    await inventory.caughtUp(30_000);

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await signIn(page, inventory.url, inventory.tokens['store-viewer']);
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: `tillstream_session_${new URL(inventory.url).port}`, httpOnly: true, secure: true, sameSite: 'Strict' });
    const shows = (testid: string, value: string, timeout: number) => page.waitForFunction(`document.querySelector('[data-testid="${testid}"]')?.textContent === '${value}'`, undefined, { timeout });
    const text = (testid: string) => page.getByTestId(testid).textContent();
    await shows('transactions', '9', 15_000);
    const summary = (await (await trends.get('/v1/sales/summary')).json()) as { figures: { net: number; transactions: number } };
    expect(await text('net')).toBe(money(summary.figures.net));
    const top = (await (await trends.get('/v1/sales/top?window=today&by=revenue')).json()) as { items: Array<{ sku: string }> };
    expect(await text('top-0')).toBe(top.items[0]!.sku);
    // Sold without a receipt: the ledger goes negative, and the page lists it as the API does.
    const item = (await (await inventory.get('/v1/inventory/items/SKU-1')).json()) as { state: string };
    expect(await text('stock-SKU-1')).toBe(item.state);
    // The alert feed: the newest alert on the page is the store API's newest.
    const alerts = (await (await inventory.get('/v1/inventory/alerts')).json()) as { alerts: Array<{ sku: string; type: string }> };
    expect(alerts.alerts.map((a) => a.type)).toEqual(['NEGATIVE_STOCK', 'NEGATIVE_STOCK', 'NEGATIVE_STOCK', 'NEGATIVE_STOCK']);
    expect(await text('alert-0')).toBe('negative');
    expect(await page.locator('#alerts tr').count()).toBe(4);
    expect(await page.locator('#sync').textContent()).toContain('sync service unavailable');

    // What to order today: a forecast arrives for SKU-2 as trends publishes it, and the page's suggested order is the API's.
    const forecasts = new TypedProducer({ kafka: kafka.kafka, logger: kafka.logger, source: 'trends', topicPrefix: kafka.prefix });
    await forecasts.connect();
    onTestFinished(() => forecasts.disconnect());
    await inventory.send('PUT', '/v1/inventory/items/SKU-2/settings', { reorderPoint: null, reorderQuantity: null, maximum: null, leadTimeDays: 3, packSize: 4, reorderMode: 'FORECAST' });
    const days = Array.from({ length: 7 }, (_, i) => new Date(Date.now() + i * 86_400_000).toISOString().slice(0, 10));
    await forecasts.send(forecastDemand, [
      {
        storeId: 'S001',
        data: {
          storeId: 'S001',
          sku: 'SKU-2',
          method: 'WEEKDAY_PROFILE',
          intervalLevel: 0.8,
          issuedAt: new Date().toISOString(),
          dataThrough: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
          historyDays: 28,
          daily: days.map((businessDay) => ({ businessDay, mean: 5, lower: 2, upper: 8 })),
          hourly: [],
          error: { dailyRmse: 1.5, wape: 0.3, mase: 0.9, folds: 3 },
        },
      },
    ]);
    const suggested = async () => ((await (await inventory.get('/v1/inventory/replenishment?due=today&sku=SKU-2')).json()) as ReplenishmentPage).suggestions[0];
    await waitFor(async () => (await suggested())?.basis === 'FORECAST', { timeoutMs: 30_000, message: 'the forecast to reach inventory' });
    const order = (await suggested())!;
    expect(order.orderToday).toBe(true);
    await shows('order-SKU-2', new Intl.NumberFormat('en-GB', { maximumFractionDigits: 3 }).format(order.quantity), 15_000);
    expect(await text('why-SKU-2')).toBe(order.why.note);
    expect(await page.locator('canvas#hourly-chart').boundingBox()).not.toBeNull();

    // The store API is one front: /v1/sales is trends' own answer, /v1/sync says sync is not there.
    const fronted = await inventory.get('/v1/sales/summary');
    expect(fronted.status).toBe(200);
    expect(await fronted.json()).toEqual(summary);
    const syncStatus = await inventory.get('/v1/sync/status');
    expect(syncStatus.status).toBe(503);
    expect(await syncStatus.json()).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });

    await page.evaluate('window.loadMark = 7');
    await trends.publish([sale(9)]);
    await shows('transactions', '10', 30_000);
    expect(await page.evaluate('window.loadMark')).toBe(7);

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'store.png'), fullPage: true });
  }, 120_000);

  it("the store's loss-prevention panel shows a manager the API's alerts, and a viewer nothing but who may see them", async () => {
    const browser = await testBrowser();
    const kafka = await testKafka({ specs: storeTopics });
    const trends = await testTrends({ STORE_ID: 'S001', STORE_TIME_ZONE: 'UTC' }, { kafka });
    const inventory = await testInventory({ STORE_ID: 'S001', TRENDS_URL: trends.url, SYNC_URL: 'http://127.0.0.1:1', DASHBOARD_INTERVAL_MS: '300' }, { kafka, db: trends.db });
    // A day of synthetic traffic in which OP3 sweethearts (no-sales, post-voids and refunds of their own sales).
    const store = new SyntheticStore({ storeId: 'S001', terminals: ['T01', 'T02', 'T03'], seed: 18, timeZone: 'UTC', sweetheart: { operatorId: 'OP3', rate: 0.3 } });
    const start = Date.parse('2026-11-20T08:00:00Z');
    const txs = Array.from({ length: 1200 }, (_, i) => store.next(start + i * 30_000).tx);
    for (let i = 0; i < txs.length; i += 500) await trends.publish(txs.slice(i, i + 500));
    await trends.caughtUp(60_000);
    const api = await waitFor(
      async () => {
        const body = (await (await inventory.get('/v1/loss-prevention/alerts?limit=20')).json()) as { alerts: Array<{ member: string }> };
        return body.alerts.length > 0 ? body.alerts : undefined;
      },
      { timeoutMs: 60_000, message: 'loss-prevention alerts' },
    );

    const manager = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    await signIn(manager, inventory.url, inventory.tokens['store-manager']);
    await manager.waitForFunction(`document.querySelectorAll('#lossprev tr').length === ${api.length} && document.querySelector('[data-testid="lossprev-0"]') !== null`, undefined, { timeout: 15_000 });
    expect(await manager.getByTestId('lossprev-0').textContent()).toBe(`operator ${api[0]!.member}`);
    mkdirSync(OUTPUT, { recursive: true });
    await manager.screenshot({ path: join(OUTPUT, 'store-loss-prevention.png'), fullPage: true });

    // A viewer's page never reads them: the snapshot every viewer receives holds no staff data, and the route refuses them.
    const viewer = await (await browser.newContext()).newPage();
    await signIn(viewer, inventory.url, inventory.tokens['store-viewer']);
    await viewer.waitForFunction(`document.querySelector('[data-testid="lossprev-note"]')?.textContent === 'for store managers only'`, undefined, { timeout: 15_000 });
    expect(await viewer.locator('#lossprev').textContent()).not.toContain('OP3');
    expect(JSON.stringify(await viewer.evaluate('window.__snapshot'))).not.toContain('OP3');
    expect((await inventory.get('/v1/loss-prevention/alerts', bearer(inventory.tokens['store-viewer']))).status).toBe(403);
  }, 180_000);
});
