import { z } from 'zod';
import { BusinessDay, Identifier, Rfc3339, Sku } from './pos-transaction.ts';

/**
 * Demand forecasts the store computes for itself from its own sales windows
 * (trends' day and hourly windows by SKU): what each SKU will sell over the
 * next days, with a prediction interval. Inventory reads them to suggest
 * orders (replenishment); HQ may read them once synced. Units may carry 3
 * decimals (weighed goods), as sales figures do. Training-mode and voided
 * sales never count, as in the windows they come from.
 */

/**
 * How a SKU's forecast was made. Picked per SKU by a rolling-origin backtest
 * on the SKU's own history (the method with the lowest error wins):
 * - MSTL_ETS: seasonal-trend decomposition (weekly season) with AutoETS on the remainder;
 * - WEEKDAY_PROFILE: a smoothed level times the SKU's weekday profile;
 * - CROSTON_SBA / TSB: intermittent demand (slow movers);
 * - SEASONAL_NAIVE / WEEKDAY_MEAN_4: the baselines (same weekday last week; mean of the last 4 same weekdays);
 * - ENSEMBLE: the mean of the two best of the above.
 */
export const ForecastMethod = z.enum(['MSTL_ETS', 'WEEKDAY_PROFILE', 'CROSTON_SBA', 'TSB', 'SEASONAL_NAIVE', 'WEEKDAY_MEAN_4', 'ENSEMBLE']);
export type ForecastMethod = z.infer<typeof ForecastMethod>;

const Units = z.number().min(0);

/** One forecast period: expected units and the prediction interval at the forecast's `intervalLevel`. */
export const ForecastPeriod = z
  .strictObject({
    mean: Units,
    lower: Units,
    upper: Units,
  })
  .refine((p) => p.lower <= p.mean && p.mean <= p.upper, { message: 'lower <= mean <= upper' });
export type ForecastPeriod = z.infer<typeof ForecastPeriod>;

export const DailyForecast = z.strictObject({ businessDay: BusinessDay }).and(ForecastPeriod);
export type DailyForecast = z.infer<typeof DailyForecast>;

export const HourlyForecast = z.strictObject({
  /** Hour start in the store's time zone, with its offset (as sales windows' windowStart). */
  windowStart: Rfc3339,
}).and(ForecastPeriod);
export type HourlyForecast = z.infer<typeof HourlyForecast>;

export const ForecastDemandV1 = z.strictObject({
  storeId: Identifier,
  sku: Sku,
  method: ForecastMethod,
  /** Coverage of every period's [lower, upper], e.g. 0.8 for an 80% interval. */
  intervalLevel: z.number().gt(0).lt(1),
  /** When the forecast was made. */
  issuedAt: Rfc3339,
  /** The last business day whose sales the forecast saw (no window after it was used). */
  dataThrough: BusinessDay,
  /** How many days of history the SKU had. */
  historyDays: z.number().int().min(0),
  /** The next 7 business days, in order, starting the day after dataThrough. */
  daily: z.array(DailyForecast).max(31),
  /** The next 7 x 24 hours (trading hours only may be listed; an hour not listed is forecast 0). */
  hourly: z.array(HourlyForecast).max(31 * 24),
  /**
   * The method's error in its backtest on this SKU, in units per day:
   * root mean squared error of daily forecasts (what safety stock is sized
   * from), and WAPE / MASE where defined (null with too little history).
   */
  error: z.strictObject({
    dailyRmse: z.number().min(0),
    wape: z.number().min(0).nullable(),
    mase: z.number().min(0).nullable(),
    folds: z.number().int().min(0),
  }),
});
export type ForecastDemand = z.infer<typeof ForecastDemandV1>;

/** One SKU in `GET /v1/forecast/top`: its forecast units over the next 7 days (the sum of the daily means and bounds). */
export const ForecastTopItem = z.strictObject({
  sku: Sku,
  method: ForecastMethod,
  next7Days: ForecastPeriod,
  dailyRmse: z.number().min(0),
  dataThrough: BusinessDay,
  issuedAt: Rfc3339,
});
export type ForecastTopItem = z.infer<typeof ForecastTopItem>;

/** `GET /v1/forecast/top`: the SKUs with the most forecast units over the next 7 days, most first. */
export const ForecastTop = z.strictObject({ items: z.array(ForecastTopItem) }).meta({ id: 'ForecastTop' });
export type ForecastTop = z.infer<typeof ForecastTop>;
