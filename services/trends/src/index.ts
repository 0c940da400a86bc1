export { startTrends, type TrendsService } from './service.ts';
export { loadEnv, trendsEnv, type TrendsEnv } from './env.ts';
export { createApp, type TrendsDeps } from './app.ts';
