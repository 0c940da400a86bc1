export { startTrends, type TrendsService } from './service.ts';
export { loadEnv, trendsEnv, type TrendsEnv } from './env.ts';
export { createApp, type TrendsDeps } from './app.ts';
export { DEFAULT_FORECAST_POLICY, runForecasts, type ForecastPolicy, type ForecastRun } from './forecasts.ts';
