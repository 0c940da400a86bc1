import { z } from 'zod';
import { bool, httpEnv, parseEnv, postgresEnv } from '@tillstream/config';
import { consumerServiceEnv } from '@tillstream/consumer-service';

const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as Europe/London' },
);

/** Everything the trends service reads from the environment; fails at boot with every bad variable named. */
export const trendsEnv = z.object({
  ...consumerServiceEnv.shape,
  ...postgresEnv('trends').shape,
  ...httpEnv(8082).shape,
  STORE_TIME_ZONE: timeZone.default('UTC').describe("The store's IANA time zone: 5-minute and hourly windows follow occurredAt in it."),
  ANOMALY_THRESHOLD: z.coerce.number().positive().default(3.5).describe('Robust deviations (median absolute deviation x 1.4826) from the baseline median that make an anomaly.'),
  ANOMALY_BASELINE_WEEKS: z.coerce.number().int().min(2).max(52).default(8).describe('Weeks of the same weekday and hour an hour is compared with.'),
  FORECAST_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000).describe('How often every SKU with sales is forecast again (forecast.demand.v1); also after a catch-up or late data for past days.'),
  FORECAST_MIN_GAP_MS: z.coerce.number().int().min(0).default(60_000).describe('Least time between two forecasting rounds (late data for past days triggers one).'),
  FORECAST_HISTORY_DAYS: z.coerce.number().int().min(14).max(730).default(182).describe('Days of day windows a forecast reads; a SKU with no sale in them is not forecast.'),
  FORECAST_FOLDS: z.coerce.number().int().min(1).max(20).default(6).describe('Backtest folds (a week apart) each SKU picks its forecasting method by.'),
  FORECAST_INTERVAL_LEVEL: z.coerce.number().gt(0).lt(1).default(0.8).describe("Coverage of the forecasts' prediction intervals."),
  PUBLISH_SETTLED_WHILE_CATCHING_UP: bool
    .default(false)
    .describe('While catching up (PUBLISH_HOLD_LAG), publish 5-minute and hourly windows event time has moved 2 hours past alongside the booking instead of after it. Off: on a loaded 2-core machine it slowed the catch-up (BENCHMARKS.md, issue 19).'),
});

export type TrendsEnv = z.output<typeof trendsEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): TrendsEnv {
  return parseEnv(trendsEnv, env);
}
