import { describe, expect, it } from 'vitest';
import { inverseNormalCdf, roundOrder, suggestReplenishment, type ReplenishmentInput, type ReplenishmentSettings } from './replenishment.ts';

const settings = (over: Partial<ReplenishmentSettings> = {}): ReplenishmentSettings => ({
  reorderPoint: null,
  reorderQuantity: null,
  maximum: null,
  leadTimeDays: 2,
  reviewPeriodDays: 1,
  packSize: 1,
  minimumOrder: 0,
  serviceLevel: 0.95,
  reorderMode: 'FORECAST',
  ...over,
});

/** A 7-day forecast from 2026-12-01 (today) of `means`, with RMSE `rmse`. */
const forecast = (means: number[], rmse = 0) => ({
  method: 'WEEKDAY_PROFILE',
  issuedAt: '2026-11-30T23:00:00Z',
  dataThrough: '2026-11-30',
  daily: means.map((mean, i) => ({ businessDay: `2026-12-0${i + 1}`, mean })),
  dailyRmse: rmse,
});

const input = (over: Partial<ReplenishmentInput>): ReplenishmentInput => ({
  storeId: 'S001',
  sku: 'BREAD',
  description: 'Bread',
  today: '2026-12-01',
  onHand: 0,
  onOrder: 0,
  settings: settings(),
  forecast: null,
  computedAt: '2026-12-01T08:00:00Z',
  ...over,
});

describe('inverseNormalCdf (Acklam)', () => {
  it('matches tabulated standard normal quantiles', () => {
    const table: [number, number][] = [
      [0.5, 0],
      [0.8, 0.8416212335729143],
      [0.9, 1.2815515655446004],
      [0.95, 1.6448536269514722],
      [0.975, 1.959963984540054],
      [0.99, 2.3263478740408408],
      [0.999, 3.090232306167813],
      [0.01, -2.3263478740408408],
      [0.001, -3.090232306167813],
    ];
    for (const [p, z] of table) expect(inverseNormalCdf(p)).toBeCloseTo(z, 7);
  });

  it('refuses probabilities outside (0, 1)', () => {
    for (const p of [0, 1, -0.1, 1.5, Number.NaN]) expect(() => inverseNormalCdf(p)).toThrow(RangeError);
  });
});

describe('roundOrder', () => {
  it('rounds up to whole packs and to the minimum order, exactly in thousandths', () => {
    expect(roundOrder(13, 6, 0)).toBe(18);
    expect(roundOrder(12, 6, 0)).toBe(12);
    expect(roundOrder(0.3, 0.1, 0)).toBe(0.3);
    expect(roundOrder(2, 6, 20)).toBe(24);
    expect(roundOrder(0, 6, 0)).toBe(0);
    expect(roundOrder(-4, 6, 0)).toBe(0);
  });
});

describe('suggestReplenishment', () => {
  it('orders today when the position is at the forecast reorder point, up to demand over lead time + review + safety stock', () => {
    // Lead time 2 + review 1: demand 10 + 12 + 14 = 36; over the lead time 22.
    // Safety stock: z(0.95) 1.6449 x RMSE 3 x sqrt(3) = 8.547.
    const s = suggestReplenishment(input({ onHand: 20, onOrder: 6, settings: settings({ packSize: 6 }), forecast: forecast([10, 12, 14, 10, 10, 10, 10], 3) }));
    expect(s.why.demandOverLeadTime).toBe(22);
    expect(s.why.demandOverLeadTimeAndReview).toBe(36);
    expect(s.why.safetyStock).toBeCloseTo(1.6448536 * 3 * Math.sqrt(3), 3);
    expect(s.why.reorderPoint).toBeCloseTo(22 + 8.547, 3);
    expect(s.why.orderUpTo).toBeCloseTo(36 + 8.547, 3);
    expect(s.why.position).toBe(26);
    expect(s).toMatchObject({ basis: 'FORECAST', orderToday: true, orderOn: '2026-12-01' });
    // 44.547 - 26 = 18.547, rounded up to packs of 6: 24.
    expect(s.quantity).toBe(24);
    expect(s.why.defaulted).toEqual([]);
    expect(s.why.note).toMatch(/order 24 today/);
  });

  it('projects the day the stock reaches the reorder point when it is above it', () => {
    // No error: reorder point = demand over 2 days = 20; 50 on hand falls by 10 a day: 40, 30, 20 after the third day.
    const s = suggestReplenishment(input({ onHand: 50, forecast: forecast([10, 10, 10, 10, 10, 10, 10]) }));
    expect(s.why.reorderPoint).toBe(20);
    expect(s).toMatchObject({ orderToday: false, orderOn: '2026-12-04' });
    // Then up to 30 (3 days of demand) from 20: 10.
    expect(s.quantity).toBe(10);
  });

  it("uses the forecast's mean daily rate beyond its horizon", () => {
    // A 2-day forecast (4 then 8: rate 6) and a 5-day lead time + 2-day review: 4 + 8 + 5 x 6 = 42.
    const s = suggestReplenishment(input({ settings: settings({ leadTimeDays: 5, reviewPeriodDays: 2 }), forecast: forecast([4, 8]) }));
    expect(s.why.demandOverLeadTime).toBe(4 + 8 + 3 * 6);
    expect(s.why.demandOverLeadTimeAndReview).toBe(42);
    expect(s.why.forecast).toMatchObject({ horizonDays: 2, meanDailyRate: 6 });
  });

  it('keeps the fixed reorder point in FIXED mode, sizing the order from the forecast', () => {
    const s = suggestReplenishment(input({ onHand: 5, settings: settings({ reorderMode: 'FIXED', reorderPoint: 5 }), forecast: forecast([10, 10, 10, 10, 10, 10, 10]) }));
    expect(s.why.reorderPoint).toBe(5);
    expect(s).toMatchObject({ orderToday: true, quantity: 25 });
  });

  it('falls back to the fixed reorder point without a forecast, and says so', () => {
    const s = suggestReplenishment(input({ onHand: 3, settings: settings({ reorderPoint: 4, reorderQuantity: 12, packSize: 5, minimumOrder: null }) }));
    expect(s).toMatchObject({ basis: 'FIXED_FALLBACK', orderToday: true, orderOn: '2026-12-01', quantity: 15 });
    expect(s.why.orderUpTo).toBe(16);
    expect(s.why.defaulted).toEqual(['minimumOrder']);
    expect(s.why.note).toMatch(/^No forecast yet/);
    const above = suggestReplenishment(input({ onHand: 9, settings: settings({ reorderPoint: 4, maximum: 20 }) }));
    expect(above).toMatchObject({ basis: 'FIXED_FALLBACK', orderToday: false, orderOn: null, quantity: 0 });
  });

  it('suggests nothing with neither a forecast nor a reorder point', () => {
    const s = suggestReplenishment(input({ onHand: -3, settings: settings({ leadTimeDays: null }) }));
    expect(s).toMatchObject({ basis: 'NONE', orderToday: false, orderOn: null, quantity: 0 });
    expect(s.why.leadTimeDays).toBe(2);
    expect(s.why.defaulted).toEqual(['leadTimeDays']);
  });

  it('counts open orders in the position', () => {
    const f = forecast([10, 10, 10, 10, 10, 10, 10]);
    expect(suggestReplenishment(input({ onHand: 10, forecast: f })).orderToday).toBe(true);
    expect(suggestReplenishment(input({ onHand: 10, onOrder: 30, forecast: f })).orderToday).toBe(false);
  });
});
