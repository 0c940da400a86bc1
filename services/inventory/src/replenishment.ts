import { REPLENISHMENT_DEFAULTS, type ReorderMode, type ReplenishmentSuggestion } from '@tillstream/contracts';

/**
 * Replenishment: what to order, when, and why, for one SKU. Pure: the
 * figures come in (settings, on hand, on order, the latest forecast, today)
 * and the suggestion goes out; the routes, the dashboard and the sync feed
 * all call this one function.
 *
 * A periodic-review order-up-to policy (R, S) with a reorder point:
 * - demand over the lead time L and over L + review period R, from the
 *   forecast's daily means starting today (beyond the forecast's last day,
 *   its mean daily rate);
 * - safety stock = z(service level) x dailyRmse x sqrt(L + R), the forecast's
 *   backtest error standing for the daily demand's standard deviation;
 * - reorder point = demand over L + safety stock (FORECAST mode), or the
 *   item's fixed reorder point (FIXED mode, as before);
 * - order-up-to level S = demand over L + R + safety stock;
 * - position = on hand + on order; at or below the reorder point: order
 *   S - position today, rounded up to whole packs and at least the minimum
 *   order; above it: the order date is the day the position, less the
 *   forecast demand until then, reaches the reorder point.
 * Without a forecast: the fixed reorder point, and an order up to the
 * maximum (or reorder point + reorder quantity), and the suggestion says so.
 */

export interface ReplenishmentSettings {
  reorderPoint: number | null;
  reorderQuantity: number | null;
  maximum: number | null;
  leadTimeDays: number | null;
  reviewPeriodDays: number | null;
  packSize: number | null;
  minimumOrder: number | null;
  serviceLevel: number | null;
  reorderMode: ReorderMode;
}

export interface ForecastFigures {
  method: string;
  issuedAt: string;
  dataThrough: string;
  daily: ReadonlyArray<{ businessDay: string; mean: number }>;
  dailyRmse: number;
}

export interface ReplenishmentInput {
  storeId: string;
  sku: string;
  description: string | null;
  /** The store's business day today (YYYY-MM-DD). */
  today: string;
  onHand: number;
  onOrder: number;
  settings: ReplenishmentSettings;
  forecast: ForecastFigures | null;
  /** When this was computed (RFC 3339). */
  computedAt: string;
}

/** How far ahead the order date is projected (days): past this, "not yet". */
export const PROJECTION_DAYS = 28;

const DAY_MS = 86_400_000;
// The calendar from the last `today` asked for: every SKU of one computation walks the same days,
// and formatting a date is most of the cost per SKU.
let calendar: { today: string; days: string[] } = { today: '', days: [] };
function addDays(today: string, offset: number): string {
  if (calendar.today !== today) calendar = { today, days: [] };
  const { days } = calendar;
  for (let i = days.length; i <= offset; i++) days.push(new Date(Date.parse(`${today}T00:00:00Z`) + i * DAY_MS).toISOString().slice(0, 10));
  return days[offset]!;
}

/** Rounds to 3 decimals (quantities are exact to the thousandth everywhere else). */
const q3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * The inverse of the standard normal CDF (the z of a service level), by
 * Peter J. Acklam's rational approximation (relative error below 1.15e-9 over
 * (0, 1)). Twenty lines of a published algorithm, tested against tabulated
 * quantiles, rather than a statistics package for one function.
 */
export function inverseNormalCdf(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`inverseNormalCdf needs 0 < p < 1, got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -inverseNormalCdf(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** `need` rounded up to whole packs, and to at least the minimum order (itself in whole packs). */
export function roundOrder(need: number, packSize: number, minimumOrder: number): number {
  const wanted = Math.max(need, minimumOrder);
  if (wanted <= 0) return 0;
  // In thousandths, so 0.1 + 0.2 packs never round up to an extra pack.
  const packs = Math.ceil(Math.round(wanted * 1000) / Math.round(packSize * 1000) - 1e-9);
  return q3(Math.max(1, packs) * packSize);
}

/** The forecast's demand per day from `today` on: its daily means by business day, its mean daily rate beyond (and before) its days. */
function demandPerDay(forecast: ForecastFigures): { rate: number; on: (day: string) => number } {
  const byDay = new Map(forecast.daily.map((d) => [d.businessDay, d.mean]));
  const rate = forecast.daily.length === 0 ? 0 : forecast.daily.reduce((sum, d) => sum + d.mean, 0) / forecast.daily.length;
  return { rate, on: (day) => byDay.get(day) ?? rate };
}

export function suggestReplenishment(input: ReplenishmentInput): ReplenishmentSuggestion {
  const { settings, forecast, today } = input;
  const defaulted: ReplenishmentSuggestion['why']['defaulted'] = [];
  const setting = <K extends keyof typeof REPLENISHMENT_DEFAULTS>(key: K): number => {
    const value = settings[key];
    if (value !== null) return value;
    defaulted.push(key);
    return REPLENISHMENT_DEFAULTS[key];
  };
  const leadTimeDays = setting('leadTimeDays');
  const reviewPeriodDays = setting('reviewPeriodDays');
  const packSize = setting('packSize');
  const minimumOrder = setting('minimumOrder');
  const serviceLevel = setting('serviceLevel');
  const z = inverseNormalCdf(serviceLevel);
  const position = q3(input.onHand + input.onOrder);
  const base = { onHand: input.onHand, onOrder: input.onOrder, position, leadTimeDays, reviewPeriodDays, serviceLevel, z: Math.round(z * 10_000) / 10_000, packSize, minimumOrder, defaulted };
  const suggestion = (s: Omit<ReplenishmentSuggestion, 'storeId' | 'sku' | 'description' | 'businessDay' | 'reorderMode' | 'computedAt'>): ReplenishmentSuggestion => ({
    storeId: input.storeId,
    sku: input.sku,
    description: input.description,
    businessDay: today,
    reorderMode: settings.reorderMode,
    ...s,
    computedAt: input.computedAt,
  });

  if (!forecast) {
    const reorderPoint = settings.reorderPoint;
    const orderUpTo = settings.maximum ?? (reorderPoint !== null && settings.reorderQuantity !== null ? reorderPoint + settings.reorderQuantity : null);
    const noForecast = { ...base, demandOverLeadTime: null, demandOverLeadTimeAndReview: null, dailyRmse: null, safetyStock: null, forecast: null };
    if (reorderPoint === null) {
      return suggestion({
        basis: 'NONE',
        orderToday: false,
        orderOn: null,
        quantity: 0,
        why: { ...noForecast, reorderPoint: null, orderUpTo, note: 'No forecast yet and no reorder point set: nothing to suggest from.' },
      });
    }
    const due = position <= reorderPoint;
    const quantity = due ? roundOrder(orderUpTo === null ? (settings.reorderQuantity ?? 0) : orderUpTo - position, packSize, minimumOrder) : 0;
    const note = due
      ? `No forecast yet: the fixed reorder point. Position ${position} (on hand ${input.onHand} + on order ${input.onOrder}) is at or below the reorder point ${reorderPoint}: order ${quantity} today${orderUpTo === null ? '' : ` (up to ${orderUpTo})`}.`
      : `No forecast yet: the fixed reorder point. Position ${position} is above the reorder point ${reorderPoint}; without a forecast the day it is reached cannot be projected.`;
    return suggestion({ basis: 'FIXED_FALLBACK', orderToday: due, orderOn: due ? today : null, quantity, why: { ...noForecast, reorderPoint, orderUpTo, note } });
  }

  const demand = demandPerDay(forecast);
  const sumDemand = (from: number, days: number) => {
    let sum = 0;
    for (let i = from; i < from + days; i++) sum += demand.on(addDays(today, i));
    return sum;
  };
  const demandOverLeadTime = q3(sumDemand(0, leadTimeDays));
  const demandOverLeadTimeAndReview = q3(sumDemand(0, leadTimeDays + reviewPeriodDays));
  const safetyStock = q3(Math.max(0, z * forecast.dailyRmse * Math.sqrt(leadTimeDays + reviewPeriodDays)));
  const orderUpTo = q3(demandOverLeadTimeAndReview + safetyStock);
  const forecastPoint = q3(demandOverLeadTime + safetyStock);
  const reorderPoint = settings.reorderMode === 'FORECAST' ? forecastPoint : settings.reorderPoint;
  const why = {
    ...base,
    demandOverLeadTime,
    demandOverLeadTimeAndReview,
    dailyRmse: forecast.dailyRmse,
    safetyStock,
    reorderPoint,
    orderUpTo,
    forecast: { method: forecast.method, issuedAt: forecast.issuedAt, dataThrough: forecast.dataThrough, horizonDays: forecast.daily.length, meanDailyRate: q3(demand.rate) },
  };
  const figures = `forecast demand ${demandOverLeadTimeAndReview} over lead time ${leadTimeDays} + review ${reviewPeriodDays} days, safety stock ${safetyStock} (z ${why.z} x RMSE ${forecast.dailyRmse} x sqrt ${leadTimeDays + reviewPeriodDays})`;
  if (reorderPoint === null) {
    return suggestion({ basis: 'FORECAST', orderToday: false, orderOn: null, quantity: 0, why: { ...why, note: `FIXED mode with no reorder point set: nothing to order against (${figures}; set reorderMode FORECAST to follow it).` } });
  }
  const pointName = settings.reorderMode === 'FORECAST' ? 'the forecast reorder point' : 'the fixed reorder point';
  if (position <= reorderPoint) {
    const quantity = roundOrder(orderUpTo - position, packSize, minimumOrder);
    const note = `Position ${position} (on hand ${input.onHand} + on order ${input.onOrder}) is at or below ${pointName} ${reorderPoint}: order ${quantity} today to bring it up to ${orderUpTo} (${figures}).`;
    return suggestion({ basis: 'FORECAST', orderToday: true, orderOn: today, quantity, why: { ...why, note } });
  }
  // Project the position day by day (today's demand first) until it reaches the reorder point.
  let projected = position;
  for (let day = 1; day <= PROJECTION_DAYS; day++) {
    projected -= demand.on(addDays(today, day - 1));
    if (projected <= reorderPoint) {
      const orderOn = addDays(today, day);
      const quantity = roundOrder(orderUpTo - projected, packSize, minimumOrder);
      const note = `Position ${position} is above ${pointName} ${reorderPoint}; at the forecast demand it reaches it on ${orderOn}: order ${quantity} then (${figures}).`;
      return suggestion({ basis: 'FORECAST', orderToday: false, orderOn, quantity, why: { ...why, note } });
    }
  }
  const note = `Position ${position} stays above ${pointName} ${reorderPoint} for the next ${PROJECTION_DAYS} days at the forecast demand: nothing to order (${figures}).`;
  return suggestion({ basis: 'FORECAST', orderToday: false, orderOn: null, quantity: 0, why: { ...why, note } });
}
