export { crostonSba, initMstl, mstlEts, profileLevel, seasonalNaive, tsb, weekdayMean, weekdayProfile, type Method, type MethodContext, type Series } from './methods.ts';
export {
  METHODS,
  PROFILE_GRID,
  tuneProfile,
  profileGridErrors,
  bestProfile,
  DEFAULT_PROFILE,
  type ProfileSettings,
  foldOrigins,
  forecastSku,
  hourShares,
  hourly,
  normalQuantile,
  seasonalScale,
  storeWeekdayProfile,
  type BacktestError,
  type ForecastOptions,
  type MethodName,
  type PeriodForecast,
  type SkuForecast,
} from './forecast.ts';
export { addDays, dailySeries, weekday, type DailySeries } from './series.ts';
