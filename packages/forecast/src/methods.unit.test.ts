import { describe, expect, it } from 'vitest';
import { crostonSba, forecastSku, PROFILE_GRID, tuneProfile, hourly, hourShares, mstlEts, normalQuantile, profileLevel, seasonalNaive, seasonalScale, tsb, weekdayMean, weekdayProfile, type Series } from './index.ts';

// Weekday of index 0: Monday (1). A week: Mon..Sun.
const ctx = { firstWeekday: 1 };
const weeks = (n: number, week: readonly number[]) => Array.from({ length: n }, () => week).flat();

describe('baselines', () => {
  it('seasonal naive repeats last week, walking back over a closed day', () => {
    const y: Series = [...weeks(1, [1, 2, 3, 4, 5, 6, 7]), 10, 20, null, 40, 50, 60, 70];
    expect(seasonalNaive(y, 7, ctx)).toEqual([10, 20, 3, 40, 50, 60, 70]);
  });
  it('the 4-week weekday mean averages the last 4 open same weekdays', () => {
    const y: Series = [...weeks(1, [100, 0, 0, 0, 0, 0, 0]), 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, null, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0];
    // Mondays, newest first: 6, 3, (closed), 2, 1 -> (6 + 3 + 2 + 1) / 4.
    expect(weekdayMean(4)(y, 1, ctx)).toEqual([3]);
  });
});

describe('intermittent demand', () => {
  // Worked by hand from the published recursions (Croston 1972 with Syntetos & Boylan's 2005 bias correction; Teunter, Syntetos & Babai 2011).
  const y: Series = [0, 3, 0, 0, 5, 0, 2];
  it('Croston SBA: sizes 3 -> 3.2 -> 3.08, intervals 2 -> 2.1 -> 2.09, forecast 0.95 x 3.08 / 2.09', () => {
    expect(crostonSba(0.1)(y, 2, ctx)[0]).toBeCloseTo((0.95 * 3.08) / 2.09, 10);
    expect(crostonSba(0.1)(y, 2, ctx)).toHaveLength(2);
  });
  it('Croston SBA skips closed days: they are not days without demand', () => {
    // Intervals 2 then 2 (the closed day does not count): size 3 -> 3.2, interval 2 -> 2.
    expect(crostonSba(0.1)([0, 3, null, 0, 5], 1, ctx)[0]).toBeCloseTo((0.95 * 3.2) / 2, 10);
  });
  it('TSB: probability 0 -> 0.1 -> ... -> 0.240049, size 3 -> 3.2 -> 3.08', () => {
    expect(tsb(0.1, 0.1)(y, 1, ctx)[0]).toBeCloseTo(0.240049 * 3.08, 10);
  });
  it('TSB decays once a SKU stops selling; Croston does not', () => {
    const stopped: Series = [...y, ...Array<number>(30).fill(0)];
    expect(tsb()(stopped, 1, ctx)[0]).toBeLessThan(tsb()(y, 1, ctx)[0]! / 5);
    expect(crostonSba()(stopped, 1, ctx)[0]).toBeCloseTo(crostonSba()(y, 1, ctx)[0]!, 10);
  });
  it('no demand at all forecasts 0', () => {
    expect(crostonSba()([0, 0, null, 0], 3, ctx)).toEqual([0, 0, 0]);
    expect(tsb()([], 2, ctx)).toEqual([0, 0]);
  });
});

describe('weekly seasonal methods', () => {
  const week = [10, 10, 10, 10, 10, 30, 20];
  it('the weekday profile x level recovers a clean weekly pattern', () => {
    // Factors by weekday, Sunday first (no shrinkage: prior 0).
    expect(weekdayProfile(weeks(8, week), ctx, 8, 0).map((p) => Math.round(p * 1000) / 1000)).toEqual([1.4, 0.7, 0.7, 0.7, 0.7, 0.7, 2.1]);
    profileLevel(0.15, 8, 0)(weeks(8, week), 7, ctx).forEach((f, k) => expect(f).toBeCloseTo(week[k]!, 6));
  });
  it("a weekday seen on few days leans on the store's profile", () => {
    const storeProfile = [1, 1, 1, 1, 1, 1, 1];
    const p = weekdayProfile([10, 10, 10, 10, 10, 40, 10], { firstWeekday: 1, storeProfile }, 8, 4);
    // One Saturday at 4x the mean of the others, shrunk 1:4 toward 1.
    expect(p[6]!).toBeLessThan(1.8);
    expect(p[6]!).toBeGreaterThan(1.2);
  });
  it('MSTL with AutoETS (augurs) forecasts a weekly pattern with a trend', () => {
    const y = Array.from({ length: 70 }, (_, i) => 20 + i * 0.2 + (i % 7 === 5 ? 15 : 0));
    const f = mstlEts(y, 7, ctx);
    expect(f).toHaveLength(7);
    // Day 70 is a Monday (index 0 of the week), day 75 the Saturday peak.
    expect(f[5]! - f[4]!).toBeGreaterThan(10);
    expect(f[0]!).toBeGreaterThan(30);
    expect(f[0]!).toBeLessThan(38);
  });
  it('MSTL with closed days and too little history falls back instead of failing', () => {
    const y: (number | null)[] = [...weeks(4, [5, 5, 5, 5, 5, 9, 7])];
    y[10] = null;
    expect(mstlEts(y, 7, ctx).every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(mstlEts([1, 2, 3], 7, ctx)).toHaveLength(7);
    expect(mstlEts(Array<number>(30).fill(0), 3, ctx)).toEqual([0, 0, 0]);
  });
});

describe('forecastSku', () => {
  it('picks a method by backtest, gives 7 days with intervals around the mean, and its backtest error', () => {
    const noise = [1, -2, 0, 2, -1, 3, -3, 0, 1, -1];
    const y = Array.from({ length: 84 }, (_, i) => [10, 10, 12, 10, 14, 30, 22][i % 7]! + noise[i % 10]!);
    const f = forecastSku(y, ctx);
    expect(f.daily).toHaveLength(7);
    for (const d of f.daily) expect(d.lower <= d.mean && d.mean <= d.upper).toBe(true);
    expect(f.daily[5]!.mean).toBeGreaterThan(f.daily[0]!.mean + 10);
    expect(f.error.folds).toBe(6);
    expect(f.error.dailyRmse).toBeGreaterThan(0);
    expect(f.error.dailyRmse).toBeLessThan(4);
    // The interval is +- z(0.9) x the backtest RMSE.
    expect(f.daily[5]!.upper - f.daily[5]!.mean).toBeCloseTo(normalQuantile(0.9) * f.error.dailyRmse, 2);
    expect(f.error.wape).not.toBeNull();
    expect(f.error.mase).not.toBeNull();
  });
  it('with too little history for a fold: TSB for a slow mover, RMSE from the spread, no WAPE', () => {
    const f = forecastSku([0, 0, 1, 0, 0, 0, 0, 0, 2, 0], ctx);
    expect(f.method).toBe('TSB');
    expect(f.error).toMatchObject({ folds: 0, wape: null, mase: null });
    expect(f.error.dailyRmse).toBeGreaterThan(0);
  });
  it('uses nothing after its last day: planting huge sales after it changes nothing', () => {
    const y = Array.from({ length: 70 }, (_, i) => [5, 6, 5, 7, 9, 20, 12][i % 7]! + (i % 3));
    const made = forecastSku(y.slice(0, 56), ctx);
    const planted = [...y.slice(0, 56), ...Array<number>(14).fill(10_000)];
    expect(forecastSku(planted.slice(0, 56), ctx)).toEqual(made);
  });
});

describe('helpers', () => {
  it('normal quantiles', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.9)).toBeCloseTo(1.281552, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
  });
  it("MASE's scale skips closed days", () => {
    expect(seasonalScale([1, 1, 1, 1, 1, 1, 1, 3, null, 1, 1, 1, 1, 1])).toBeCloseTo(2 / 6, 10);
    expect(seasonalScale([1, 2])).toBeNull();
  });
  it("hour shares: a busy SKU's own, a sparse SKU's the store's; they sum to 1 and spread a day", () => {
    const store = Array.from({ length: 7 }, () => Array.from({ length: 24 }, (_, h) => (h >= 8 && h < 18 ? 100 : 0)));
    const busy = Array.from({ length: 7 }, () => Array.from({ length: 24 }, (_, h) => (h === 9 ? 1000 : 0)));
    const sharesBusy = hourShares(busy, store);
    const sharesSparse = hourShares([], store);
    expect(sharesBusy[1]![9]!).toBeGreaterThan(0.95);
    expect(sharesSparse[1]![9]!).toBeCloseTo(0.1, 10);
    expect(sharesSparse[1]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    const hours = hourly({ mean: 10, lower: 5, upper: 15 }, sharesSparse[1]!);
    expect(hours.map((h) => h.hour)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect(hours[0]).toEqual({ hour: 8, mean: 1, lower: 0.5, upper: 1.5 });
  });
});

describe('tuneProfile', () => {
  it("picks the profile settings with the least backtest error over the store's SKUs together", () => {
    // A level that steps up: fast smoothing and a short profile follow it best.
    const stepped = Array.from({ length: 98 }, (_, i) => (i < 63 ? 10 : 30) * (i % 7 === 5 ? 2 : 1));
    const grid = PROFILE_GRID.filter((g) => g.prior === 0 && g.weeks === 4);
    expect(tuneProfile([{ y: stepped, ctx }], {}, grid).alpha).toBe(0.25);
    // A flat level with noise: the slowest smoothing.
    const noisy = Array.from({ length: 98 }, (_, i) => 10 + ((i * 7919) % 11) - 5);
    expect(tuneProfile([{ y: noisy, ctx }], {}, grid).alpha).toBe(0.05);
    // Nothing to score: the default.
    expect(tuneProfile([{ y: [1, 2], ctx }])).toEqual({ alpha: 0.15, weeks: 8, prior: 4 });
  });
});
