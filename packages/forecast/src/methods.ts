import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initSync, MSTL } from '@bsull/augurs/mstl';

/**
 * Daily forecasting methods. A series is a SKU's units per calendar day,
 * oldest first; `null` is a day the store was closed (no sales at all in the
 * store): missing, not 0. `firstWeekday` is the weekday (0 = Sunday) of the
 * series' first day. Every method returns `h` non-negative point forecasts
 * for the days right after the series, and sees nothing but the series it is
 * given (what the backtest and the no-future test rely on).
 */
export type Series = readonly (number | null)[];

export interface MethodContext {
  /** Weekday of the series' first day, 0 = Sunday. */
  firstWeekday: number;
  /**
   * The store's weekday profile (7 factors around 1, Sunday first) over the
   * same days, or undefined: a SKU's own profile is shrunk toward it.
   */
  storeProfile?: readonly number[] | undefined;
}

export type Method = (y: Series, h: number, ctx: MethodContext) => number[];

const weekdayOf = (ctx: MethodContext, i: number) => (ctx.firstWeekday + i) % 7;
const clamp0 = (x: number) => (Number.isFinite(x) && x > 0 ? x : 0);

/** Seasonal naive: the same weekday last week (the latest open one of that weekday, if last week's was closed). */
export const seasonalNaive: Method = (y, h) => {
  const out: number[] = [];
  for (let k = 0; k < h; k++) {
    let v: number | null = null;
    for (let i = y.length - 7 + (k % 7); i >= 0 && v === null; i -= 7) v = y[i] ?? null;
    out.push(v ?? 0);
  }
  return out;
};

/** The mean of the last `weeks` open days of the same weekday (the 4-week same-weekday mean baseline). */
export function weekdayMean(weeks = 4): Method {
  return (y, h) => {
    const out: number[] = [];
    for (let k = 0; k < h; k++) {
      let sum = 0;
      let n = 0;
      for (let i = y.length - 7 + (k % 7); i >= 0 && n < weeks; i -= 7) {
        const v = y[i];
        if (v === null || v === undefined) continue;
        sum += v;
        n++;
      }
      out.push(n === 0 ? 0 : sum / n);
    }
    return out;
  };
}

/**
 * A SKU's weekday profile: mean units per weekday over the last `weeks`
 * weeks divided by the mean over all those open days, shrunk toward the
 * store's profile with the weight of `prior` days (a weekday seen on few
 * days leans on the store's shape). Factors average 1 over the week.
 */
export function weekdayProfile(y: Series, ctx: MethodContext, weeks = 8, prior = 4): number[] {
  const from = Math.max(0, y.length - weeks * 7);
  const sums = [0, 0, 0, 0, 0, 0, 0];
  const counts = [0, 0, 0, 0, 0, 0, 0];
  for (let i = from; i < y.length; i++) {
    const v = y[i];
    if (v === null || v === undefined) continue;
    sums[weekdayOf(ctx, i)]! += v;
    counts[weekdayOf(ctx, i)]!++;
  }
  const total = sums.reduce((a, b) => a + b, 0);
  const days = counts.reduce((a, b) => a + b, 0);
  const mean = days === 0 ? 0 : total / days;
  const store = ctx.storeProfile ?? [1, 1, 1, 1, 1, 1, 1];
  const raw = sums.map((s, w) => {
    const own = counts[w]! === 0 || mean === 0 ? store[w]! : s / counts[w]! / mean;
    return (counts[w]! * own + prior * store[w]!) / (counts[w]! + prior);
  });
  const avg = raw.reduce((a, b) => a + b, 0) / 7;
  return raw.map((r) => (avg > 0 ? r / avg : 1));
}

/**
 * Weekday profile x smoothed level: the SKU's weekday profile (shrunk toward
 * the store's), and a level smoothed exponentially (weight `alpha`) over the
 * deseasonalised open days; the forecast is level x profile of each weekday.
 */
export function profileLevel(alpha = 0.15, weeks = 8, prior = 4): Method {
  return (y, h, ctx) => {
    const profile = weekdayProfile(y, ctx, weeks, prior);
    let level: number | undefined;
    for (let i = 0; i < y.length; i++) {
      const v = y[i];
      if (v === null || v === undefined) continue;
      const p = profile[weekdayOf(ctx, i)]!;
      const d = p > 0 ? v / p : v;
      level = level === undefined ? d : level + alpha * (d - level);
    }
    return Array.from({ length: h }, (_, k) => clamp0((level ?? 0) * profile[weekdayOf(ctx, y.length + k)]!));
  };
}

/**
 * Croston's method with the Syntetos-Boylan approximation (SBA) for
 * intermittent demand: demand sizes and intervals between demands are
 * smoothed separately (weight `alpha`, initialised with the first demand and
 * its interval) and the forecast per day is (1 - alpha/2) x size / interval.
 * Closed days are skipped (they are no evidence of zero demand). Small enough
 * to write here, unit-tested against a worked example; augurs has no
 * intermittent-demand model and no npm package for it turned up
 * (packages/forecast/README.md).
 */
export function crostonSba(alpha = 0.1): Method {
  return (y, h) => {
    let size: number | undefined;
    let interval: number | undefined;
    let since = 0;
    for (const v of y) {
      if (v === null || v === undefined) continue;
      since++;
      if (v <= 0) continue;
      if (size === undefined || interval === undefined) {
        size = v;
        interval = since;
      } else {
        size += alpha * (v - size);
        interval += alpha * (since - interval);
      }
      since = 0;
    }
    const f = size === undefined || interval === undefined ? 0 : ((1 - alpha / 2) * size) / interval;
    return Array.from({ length: h }, () => clamp0(f));
  };
}

/**
 * Teunter-Syntetos-Babai (TSB): the probability of a demand is smoothed every
 * (open) day (weight `beta`), the demand size on days with demand (weight
 * `alpha`); the forecast is probability x size. Unlike Croston it decays when
 * a SKU stops selling.
 */
export function tsb(alpha = 0.1, beta = 0.1): Method {
  return (y, h) => {
    let size: number | undefined;
    let prob: number | undefined;
    for (const v of y) {
      if (v === null || v === undefined) continue;
      const demand = v > 0 ? 1 : 0;
      if (prob === undefined) prob = demand;
      else prob += beta * (demand - prob);
      if (v > 0) size = size === undefined ? v : size + alpha * (v - size);
    }
    const f = size === undefined || prob === undefined ? 0 : prob * size;
    return Array.from({ length: h }, () => clamp0(f));
  };
}

let mstlReady = false;

/** Loads the MSTL wasm once (synchronously, from @bsull/augurs' own file); every later call is free. */
export function initMstl(): void {
  if (mstlReady) return;
  const wasm = fileURLToPath(new URL('./mstl_bg.wasm', import.meta.resolve('@bsull/augurs/mstl')));
  initSync({ module: readFileSync(wasm) });
  mstlReady = true;
}

/** Closed days for MSTL (which needs a regular series): the weekday profile x the level of the open days around. */
function impute(y: Series, ctx: MethodContext): number[] {
  const out: number[] = [];
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v !== null && v !== undefined) {
      out.push(v);
      continue;
    }
    // Same weekday the week before (already imputed if closed too), else the previous day, else 0.
    out.push(i >= 7 ? out[i - 7]! : i > 0 ? out[i - 1]! : 0);
  }
  void ctx;
  return out;
}

/**
 * MSTL with AutoETS (from @bsull/augurs, grafana/augurs' Rust compiled to
 * wasm): the series is split into a weekly season, found by STL, and a
 * remainder trend forecast by an automatically chosen ETS model. Closed days
 * are imputed first (see impute). Needs 3 weeks; with less it falls back to
 * the weekday profile method.
 */
export const mstlEts: Method = (y, h, ctx) => {
  if (y.length < 21) return profileLevel()(y, h, ctx);
  initMstl();
  const model = MSTL.ets([7]);
  try {
    model.fit(Float64Array.from(impute(y, ctx)));
    return model.predict(h).point.map(clamp0);
  } catch {
    // AutoETS refuses some degenerate series (all zeros, constant): the profile method covers them.
    return profileLevel()(y, h, ctx);
  } finally {
    model.free();
  }
};
