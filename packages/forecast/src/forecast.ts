import { crostonSba, mstlEts, profileLevel, seasonalNaive, tsb, weekdayMean, weekdayProfile, type Method, type MethodContext, type Series } from './methods.ts';

/** The methods a SKU's forecast may be made with (the names of @tillstream/contracts' ForecastMethod). */
export type MethodName = 'MSTL_ETS' | 'WEEKDAY_PROFILE' | 'CROSTON_SBA' | 'TSB' | 'SEASONAL_NAIVE' | 'WEEKDAY_MEAN_4' | 'ENSEMBLE';
type BaseName = Exclude<MethodName, 'ENSEMBLE'>;

export const METHODS: Record<BaseName, Method> = {
  MSTL_ETS: mstlEts,
  WEEKDAY_PROFILE: profileLevel(),
  CROSTON_SBA: crostonSba(),
  TSB: tsb(),
  SEASONAL_NAIVE: seasonalNaive,
  WEEKDAY_MEAN_4: weekdayMean(4),
};

export interface ForecastOptions {
  /** Days forecast; default 7. */
  horizon?: number;
  /** Coverage of the prediction intervals; default 0.8. */
  level?: number;
  /** Backtest folds per SKU (origins a week apart, the latest first); default 6. */
  folds?: number;
  /** Days of history a fold trains on at least; default 28. */
  minTrain?: number;
  /** The methods competing (default all of METHODS; ENSEMBLE is the mean of the two best of them). */
  candidates?: readonly BaseName[];
  /**
   * The default method (WEEKDAY_PROFILE) is replaced only by one whose
   * backtest absolute error is this fraction lower; default 0.1. A handful
   * of folds is noisy: on the bakery's log, picking the plain minimum did
   * worse than the default alone (BENCHMARKS.md).
   */
  margin?: number;
  /** The weekday profile method's settings (see tuneProfile); default profileLevel's (0.15, 8 weeks, 4 days). */
  profile?: ProfileSettings;
}

/** Settings of the weekday profile x level method: level smoothing, weeks of profile, shrinkage toward the store's (days). */
export interface ProfileSettings {
  alpha: number;
  weeks: number;
  prior: number;
}

export const PROFILE_GRID: readonly ProfileSettings[] = [0.05, 0.1, 0.15, 0.25].flatMap((alpha) => [4, 8, 16].flatMap((weeks) => [0, 4, 12].map((prior) => ({ alpha, weeks, prior }))));

/**
 * The weekday profile method's settings for a whole store, picked on its
 * SKUs' own past only: each setting of `grid` forecasts every SKU's backtest
 * folds (as forecastSku's), and the one with the least absolute error over
 * all of them together wins (pooled over SKUs: far less noisy than per SKU).
 * Cheap (no MSTL): ~36 settings x folds x SKUs of microseconds.
 */
export function tuneProfile(skus: ReadonlyArray<{ y: Series; ctx: MethodContext }>, options: ForecastOptions = {}, grid: readonly ProfileSettings[] = PROFILE_GRID): ProfileSettings {
  const total = grid.map(() => 0);
  for (const { y, ctx } of skus) profileGridErrors(y, ctx, options, grid).forEach((e, k) => (total[k]! += e));
  return bestProfile(total, grid);
}

/** One SKU's backtest absolute error under each setting of `grid` (what tuneProfile sums over a store's SKUs). */
export function profileGridErrors(y: Series, ctx: MethodContext, options: ForecastOptions = {}, grid: readonly ProfileSettings[] = PROFILE_GRID): number[] {
  const h = options.horizon ?? 7;
  const origins = foldOrigins(y.length, h, options.folds ?? 6, options.minTrain ?? 28);
  return grid.map((settings) => {
    const method = profileLevel(settings.alpha, settings.weeks, settings.prior);
    let error = 0;
    for (const o of origins) {
      const f = method(y.slice(0, o), h, ctx);
      for (let j = 0; j < h; j++) {
        const a = y[o + j];
        if (a !== null && a !== undefined) error += Math.abs(f[j]! - a);
      }
    }
    return error;
  });
}

/** The setting with the least summed error (the default's when nothing was scored). */
export function bestProfile(errors: readonly number[], grid: readonly ProfileSettings[] = PROFILE_GRID): ProfileSettings {
  let best = -1;
  errors.forEach((e, k) => {
    if (e > 0 && (best < 0 || e < errors[best]!)) best = k;
  });
  return best < 0 ? { ...DEFAULT_PROFILE } : grid[best]!;
}

export const DEFAULT_PROFILE: ProfileSettings = { alpha: 0.15, weeks: 8, prior: 4 };

export interface PeriodForecast {
  mean: number;
  lower: number;
  upper: number;
}

export interface BacktestError {
  /** Root mean squared error of the daily forecasts over the folds (units/day). */
  dailyRmse: number;
  /** Sum |error| / sum actual over the folds; null when the folds sold nothing or there were none. */
  wape: number | null;
  /** Mean absolute error / mean absolute same-weekday-last-week difference in the training series; null when undefined. */
  mase: number | null;
  folds: number;
}

export interface SkuForecast {
  method: MethodName;
  daily: PeriodForecast[];
  error: BacktestError;
}

/** Per method, what its fold forecasts were and how far off. */
interface Score {
  forecasts: number[][];
  absError: number;
  sqError: number;
  n: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9): z of a central interval. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile of ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Mean |y_t - y_{t-7}| over open pairs: MASE's scale (the in-sample error of the seasonal naive forecast). */
export function seasonalScale(y: Series): number | null {
  let sum = 0;
  let n = 0;
  for (let i = 7; i < y.length; i++) {
    const a = y[i];
    const b = y[i - 7];
    if (a === null || a === undefined || b === null || b === undefined) continue;
    sum += Math.abs(a - b);
    n++;
  }
  return n === 0 || sum === 0 ? null : sum / n;
}

/** Fold origins (indexes of each fold's first forecast day) a week apart, the latest first, each with minTrain days before it and h after. */
export function foldOrigins(length: number, h: number, folds: number, minTrain: number): number[] {
  const out: number[] = [];
  for (let origin = length - h; origin >= minTrain && out.length < folds; origin -= 7) out.push(origin);
  return out;
}

/** What a SKU is forecast with unless another method clearly did better in its backtest. */
export const DEFAULT_METHOD: BaseName = 'WEEKDAY_PROFILE';

const contextAt = (ctx: MethodContext): MethodContext => ctx;

/**
 * The method for a SKU, picked by a rolling-origin backtest on its own past
 * only: each fold trains on the days before its origin and forecasts the
 * next `horizon`; the method with the least absolute error over the folds
 * wins (the mean of the two best, ENSEMBLE, competes too); closed days
 * (null) count in no error. The winner then forecasts from the whole
 * series, with an interval of +- z x its backtest RMSE (floored at 0).
 * With too little history for one fold: the weekday profile method, or TSB
 * for a SKU that sold on fewer than a third of the open days, and an RMSE
 * of the open days' standard deviation.
 */
export function forecastSku(y: Series, ctx: MethodContext, options: ForecastOptions = {}): SkuForecast {
  const h = options.horizon ?? 7;
  const level = options.level ?? 0.8;
  const z = normalQuantile(0.5 + level / 2);
  const candidates = options.candidates ?? (Object.keys(METHODS) as BaseName[]);
  const origins = foldOrigins(y.length, h, options.folds ?? 6, options.minTrain ?? 28);
  const actuals = origins.map((o) => y.slice(o, o + h));
  const scores = new Map<MethodName, Score>();
  const score = (forecasts: number[][]): Score => {
    const s: Score = { forecasts, absError: 0, sqError: 0, n: 0 };
    forecasts.forEach((f, k) =>
      actuals[k]!.forEach((a, j) => {
        if (a === null || a === undefined) return;
        s.absError += Math.abs(f[j]! - a);
        s.sqError += (f[j]! - a) ** 2;
        s.n++;
      }),
    );
    return s;
  };
  const methods: Record<BaseName, Method> = options.profile ? { ...METHODS, WEEKDAY_PROFILE: profileLevel(options.profile.alpha, options.profile.weeks, options.profile.prior) } : METHODS;
  for (const name of candidates) scores.set(name, score(origins.map((o) => methods[name](y.slice(0, o), h, contextAt(ctx)))));
  const ranked = [...scores].filter(([, s]) => s.n > 0).sort((a, b) => a[1].absError - b[1].absError);
  let method: MethodName;
  let base: BaseName[];
  if (ranked.length === 0) {
    const open = y.filter((v) => v !== null);
    const selling = open.filter((v) => v > 0).length;
    base = [selling * 3 < open.length ? 'TSB' : 'WEEKDAY_PROFILE'];
    method = base[0]!;
  } else {
    let best: { method: MethodName; base: BaseName[]; absError: number } = { method: ranked[0]![0], base: [ranked[0]![0] as BaseName], absError: ranked[0]![1].absError };
    if (ranked.length >= 2) {
      const pair = [ranked[0]![0] as BaseName, ranked[1]![0] as BaseName];
      const ensemble = score(origins.map((_, k) => ranked[0]![1].forecasts[k]!.map((v, j) => (v + ranked[1]![1].forecasts[k]![j]!) / 2)));
      scores.set('ENSEMBLE', ensemble);
      if (ensemble.absError < best.absError) best = { method: 'ENSEMBLE', base: pair, absError: ensemble.absError };
    }
    const fallback = scores.get(DEFAULT_METHOD);
    if (fallback && fallback.n > 0 && best.absError > (1 - (options.margin ?? 0.1)) * fallback.absError) best = { method: DEFAULT_METHOD, base: [DEFAULT_METHOD], absError: fallback.absError };
    method = best.method;
    base = best.base;
  }
  const chosen = scores.get(method);
  let error: BacktestError;
  if (chosen && chosen.n > 0) {
    const sold = actuals.flat().reduce<number>((t, a) => t + (a ?? 0), 0);
    const scale = seasonalScale(y);
    error = {
      dailyRmse: round3(Math.sqrt(chosen.sqError / chosen.n)),
      wape: sold > 0 ? round3(chosen.absError / sold) : null,
      mase: scale === null ? null : round3(chosen.absError / chosen.n / scale),
      folds: origins.length,
    };
  } else {
    const open = y.filter((v): v is number => v !== null);
    const mean = open.reduce((a, b) => a + b, 0) / Math.max(1, open.length);
    error = { dailyRmse: round3(Math.sqrt(open.reduce((t, v) => t + (v - mean) ** 2, 0) / Math.max(1, open.length))), wape: null, mase: null, folds: 0 };
  }
  const points = base.map((name) => methods[name](y, h, ctx));
  const daily = Array.from({ length: h }, (_, j) => {
    const mean = round3(points.reduce((t, p) => t + p[j]!, 0) / points.length);
    return { mean, lower: round3(Math.max(0, mean - z * error.dailyRmse)), upper: round3(mean + z * error.dailyRmse) };
  });
  return { method, daily, error };
}

/** The store's weekday profile from its daily units (null = closed), to shrink SKUs' profiles toward. */
export function storeWeekdayProfile(store: Series, firstWeekday: number, weeks = 8): number[] {
  return weekdayProfile(store, { firstWeekday }, weeks, 0);
}

/**
 * Shares of a day's units per local hour, per weekday (0 = Sunday): the
 * SKU's own hour-of-week counts shrunk toward the store's shares with the
 * weight of `prior` units, so a sparse SKU takes the store's shape and a
 * busy one its own. `units[w][hour]` are units sold over the profile's weeks.
 */
export function hourShares(sku: readonly (readonly number[])[], store: readonly (readonly number[])[], prior = 30): number[][] {
  return Array.from({ length: 7 }, (_, w) => {
    const own = sku[w] ?? [];
    const shop = store[w] ?? [];
    const shopTotal = shop.reduce((a, b) => a + Math.max(0, b), 0);
    const shopShare = Array.from({ length: 24 }, (_, hour) => (shopTotal > 0 ? Math.max(0, shop[hour] ?? 0) / shopTotal : 1 / 24));
    const ownTotal = own.reduce((a, b) => a + Math.max(0, b), 0);
    return shopShare.map((s, hour) => (Math.max(0, own[hour] ?? 0) + prior * s) / (ownTotal + prior));
  });
}

/** A day's forecast spread over its hours by the weekday's shares (each bound scaled alike). Hours with no share are left out. */
export function hourly(day: PeriodForecast, shares: readonly number[]): Array<PeriodForecast & { hour: number }> {
  const out: Array<PeriodForecast & { hour: number }> = [];
  shares.forEach((s, hour) => {
    if (s <= 0) return;
    out.push({ hour, mean: round3(day.mean * s), lower: round3(day.lower * s), upper: round3(day.upper * s) });
  });
  return out;
}
