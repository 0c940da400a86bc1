import { describe, expect, it, onTestFinished } from 'vitest';
import { forecastDemand, type ChainReplenishment, type ReplenishmentPage, type ReplenishmentSuggestion } from '@tillstream/contracts';
import { TypedProducer } from '@tillstream/kafka';
import { bearer, waitFor } from '@tillstream/testing';
import { startChain } from './chain.ts';

/** A suggestion's figures, without when it was computed (the store API computes anew on every call). */
const figures = (s: ReplenishmentSuggestion) => ({ ...s, computedAt: undefined });

/**
 * Replenishment suggestions travel to HQ as stock levels do: inventory
 * publishes a SKU's suggestion when it changed (inventory.replenishment.v1),
 * sync coalesces and uploads it, HQ keeps the latest per store and SKU and
 * lists it at GET /v1/replenishment.
 */
describe('replenishment at HQ', () => {
  it("a store's suggested order reaches HQ's route, and its next one replaces it", async () => {
    const chain = await startChain({ inventory: { REPLENISHMENT_PUBLISH_MS: '300' } });
    const hqViewer = { headers: bearer(chain.hqTokens['hq-viewer']) };
    const atHq = async (due = 'today') => ((await (await fetch(`${chain.hq.url}/v1/replenishment?storeId=S001&sku=BREAD&due=${due}`, hqViewer)).json()) as ChainReplenishment).suggestions[0];
    const atStore = async () => ((await (await chain.inventory.get('/v1/inventory/replenishment?sku=BREAD')).json()) as ReplenishmentPage).suggestions[0]!;

    // No forecast yet: the fixed reorder point; nothing on hand, so order up to the maximum today.
    const put = await chain.inventory.send('PUT', '/v1/inventory/items/BREAD/settings', { reorderPoint: 5, reorderQuantity: 12, maximum: 20, packSize: 6, leadTimeDays: 1 });
    expect(put.status).toBe(200);
    await waitFor(async () => (await atHq())?.basis === 'FIXED_FALLBACK', { timeoutMs: 60_000, message: "the store's suggestion at HQ" });
    const first = (await atHq())!;
    expect(figures(first)).toEqual(figures(await atStore()));
    expect(first).toMatchObject({ storeId: 'S001', sku: 'BREAD', orderToday: true, quantity: 24 });

    // A forecast arrives (as trends publishes it): the store's suggestion follows it, and so does HQ's copy.
    const trends = new TypedProducer({ kafka: chain.kafka.kafka, logger: chain.kafka.logger, source: 'trends', topicPrefix: chain.kafka.prefix });
    await trends.connect();
    onTestFinished(() => trends.disconnect());
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    await trends.send(forecastDemand, [
      {
        storeId: 'S001',
        data: {
          storeId: 'S001',
          sku: 'BREAD',
          method: 'MSTL_ETS',
          intervalLevel: 0.8,
          issuedAt: new Date().toISOString(),
          dataThrough: day(-1),
          historyDays: 56,
          daily: Array.from({ length: 7 }, (_, i) => ({ businessDay: day(i), mean: 9, lower: 5, upper: 13 })),
          hourly: [],
          error: { dailyRmse: 2, wape: 0.2, mase: 0.7, folds: 6 },
        },
      },
    ]);
    await waitFor(async () => (await atHq())?.basis === 'FORECAST', { timeoutMs: 60_000, message: 'the forecast-based suggestion at HQ' });
    const next = (await atHq())!;
    expect(figures(next)).toEqual(figures(await atStore()));
    expect(next.why.forecast).toMatchObject({ method: 'MSTL_ETS' });
    // Still one suggestion per store and SKU at HQ.
    const all = (await (await fetch(`${chain.hq.url}/v1/replenishment?due=all`, hqViewer)).json()) as ChainReplenishment;
    expect(all.suggestions.filter((s) => s.sku === 'BREAD')).toHaveLength(1);
    expect((await fetch(`${chain.hq.url}/v1/replenishment`)).status).toBe(401);
  }, 180_000);
});
